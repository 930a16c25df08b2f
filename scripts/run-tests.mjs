#!/usr/bin/env node
// Runs test files with node's test runner, by group. Files are listed explicitly: on Node 20 a
// directory or quoted glob silently runs zero tests. Fails when no test file is found, and
// when a test file belongs to no group (a new file must be placed, never silently skipped).
//
//   fast     (npm test)          pure tests, Lua scripts against a throwaway redis-server, the
//                                coordinator and HTTP surfaces in process: no nginx, no Sentinel,
//                                no replicated Redis, no cluster. Files run in parallel.
//   cluster  (npm run test:cluster)  replicated Redis and Sentinels, a server killed and
//                                restarted, real nginx, the launcher starting and stopping
//                                whole topologies, the Dockerfile's services, the build script.
//   e2e      (npm run test:e2e)  the whole system through the gateway, crash points, the
//                                operator console in headless Chromium, locust runs of
//                                `npm run load`, the dashboard queries against real /metrics.
//   chaos    (npm run test:chaos)  the chaos checker and a short fixed-seed chaos run.
//   all      (npm run test:all)  every group, fast first.
//
// Usage: node scripts/run-tests.mjs [fast|cluster|e2e|chaos|all ...] [--list] [file.test.ts ...]
// (`--only g1,g2` is accepted too.) With files, runs just those files.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Every test file of a heavy group, by path; whatever else lies under FAST_DIRS is fast. */
const HEAVY = {
  cluster: [
    // A primary with two replicas; a Sentinel; a server SIGSTOPped, killed and restarted.
    'packages/common/test/durable-writer.test.ts',
    'packages/common/test/replica-guard.test.ts',
    'packages/common/test/redis-resilience.test.ts',
    // The launcher: HA failover, nginx in front of stand-ins, Sentinels rewriting their
    // configs, `npm start` started and stopped, the Dockerfile's services, tsc builds.
    'packages/launcher/test/ha.test.ts',
    'packages/launcher/test/shards.test.ts',
    'packages/launcher/test/nginx.test.ts',
    'packages/launcher/test/private.test.ts',
    'packages/launcher/test/launcher.test.ts',
    'packages/launcher/test/stop.test.ts',
    'packages/launcher/test/docker-image.test.ts',
    'packages/launcher/test/build-if-stale.test.ts',
    // The bench's ceiling skeleton behind real nginx, on replicated Redis groups.
    'bench/test/ceiling-skeleton.test.ts',
  ],
  e2e: ['test/e2e'],
  chaos: ['test/chaos'],
};
const FAST_DIRS = ['packages/common/test', 'packages/order/test', 'packages/stock/test', 'packages/payment/test', 'packages/launcher/test', 'bench/test', 'test/repo'];
const ORDER = ['fast', 'cluster', 'e2e', 'chaos'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'data', '.git', 'bench/results']);

/** Every *.test.ts in the repository, relative, sorted. */
function allTestFiles(dir = '.') {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !SKIP_DIRS.has(rel)) out.push(...allTestFiles(rel));
    } else if (entry.name.endsWith('.test.ts')) out.push(rel);
  }
  return out.sort();
}

const under = (file, dirOrFile) => file === dirOrFile || file.startsWith(dirOrFile + '/');

function classify() {
  const files = allTestFiles();
  const groups = Object.fromEntries(ORDER.map((g) => [g, []]));
  const unplaced = [];
  for (const f of files) {
    const heavy = Object.keys(HEAVY).filter((g) => HEAVY[g].some((p) => under(f, p)));
    if (heavy.length > 1) throw new Error(`${f} is listed in more than one group: ${heavy.join(', ')}`);
    if (heavy.length === 1) groups[heavy[0]].push(f);
    else if (FAST_DIRS.some((d) => under(f, d))) groups.fast.push(f);
    else unplaced.push(f);
  }
  // A listed file that no longer exists (renamed, moved) would silently drop out of its group.
  const missing = Object.values(HEAVY).flat().filter((p) => !existsSync(p));
  const problems = [...unplaced.map((f) => `${f}: in no test group`), ...missing.map((p) => `${p}: listed in a group but missing`)];
  if (problems.length > 0) throw new Error(`run-tests: edit the groups in scripts/run-tests.mjs:\n  ${problems.join('\n  ')}`);
  return groups;
}

const args = process.argv.slice(2);
const explicit = args.filter((a) => a.endsWith('.ts'));
const only = args.indexOf('--only');
const named = [
  ...args.filter((a) => !a.startsWith('-') && !a.endsWith('.ts') && (only < 0 || a !== args[only + 1])),
  ...(only >= 0 ? (args[only + 1] ?? '').split(',') : []),
];
const chosen = named.includes('all') ? ORDER : named.length > 0 ? named : ['fast'];
for (const g of chosen) {
  if (!ORDER.includes(g)) {
    console.error(`run-tests: unknown group "${g}" (groups: ${ORDER.join(', ')}, all)`);
    process.exit(2);
  }
}

let groups;
try {
  groups = classify();
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
if (args.includes('--list')) {
  for (const g of named.length > 0 ? ORDER.filter((name) => chosen.includes(name)) : ORDER) console.log(`${g}:\n  ${groups[g].join('\n  ')}`);
  process.exit(0);
}

/**
 * One node --test run; fast files in parallel, heavy ones one at a time (clusters, 2 cores).
 * Tests run from source: tsx, and the `source` export condition so that `@shop/*` imports
 * resolve to the packages' src/ (never to a possibly stale dist/). The test runner passes
 * these flags on to every test file's process.
 */
function run(label, files, concurrency) {
  if (files.length === 0) {
    console.error(`run-tests: no test files found for ${label}`);
    return 1;
  }
  console.log(`run-tests: ${label}: ${files.length} files`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', '--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
  console.log(`run-tests: ${label}: ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result.status ?? 1;
}

if (explicit.length > 0) process.exit(run('given files', explicit, 1));
let failed = 0;
for (const g of ORDER.filter((name) => chosen.includes(name))) {
  // A failing group does not hide the others' results; the exit status reports any failure.
  if (run(g, groups[g], g === 'fast' ? 4 : 1) !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
