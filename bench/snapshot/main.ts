/**
 * `npm run bench:snapshot`: what a consistent snapshot costs under load (issue 15, item 2).
 * The command line: cli.ts. For each level, on one HA cluster of its own:
 *
 *   1. course-shaped data and fresh orders (scenario (b)'s batch_init), enough for both windows;
 *   2. wrk on the first half of the orders for a window without snapshots;
 *   3. wrk on the second half for a window of the same length, while snapshots are taken
 *      (taker.ts) until it ends;
 *   4. each snapshot checked (exact.ts), then removed.
 *
 * Bounded: every wrk window stops itself, no snapshot starts after its window, each has a
 * backstop; the cluster is stopped on every path, SIGINT and SIGTERM included.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisCall } from '@shop/common/replication/one-shot.js';
import { ShopClient } from '@shop/launcher/api.js';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { which } from '@shop/launcher/prereqs.js';
import type { Component } from '../cpu.js';
import { quietMachine } from '../run.js';
import { SCENARIO_DEFS, warmUp, type Prepared } from '../scenarios.js';
import { openReader } from '../state.js';
import { killWrk, runWrk, type WrkResult } from '../wrk.js';
import { USAGE, levelName, parseSnapshotBenchCli, type Level, type SnapshotBenchOptions } from './cli.js';
import { cutProblems, fileProblems } from './exact.js';
import { cutsList, summaryTable, windowOf, type LevelResult } from './report.js';
import { pauseStats } from './stats.js';
import { snapshotsUntil, stopSnapshot, type Taken } from './taker.js';

function log(msg: string): void {
  process.stderr.write(`[snapshot-bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** No checkout unfinished: the next window's batch_init or the next window's count must not meet the last one's stragglers. */
async function settled(cluster: Cluster): Promise<void> {
  const reader = await openReader({ cluster });
  try {
    const deadline = Date.now() + 60_000;
    while (((await reader.unfinished()) ?? 0) > 0 && Date.now() < deadline) await sleep(200);
  } finally {
    await reader.close();
  }
}

/**
 * Each primary's last fork, µs (INFO's latest_fork_usec), and whether one is rewriting its
 * AOF: read right after a cut, so the fork is the cut's own, and a slow fork tells from a
 * slow drain.
 */
async function forkProbe(cluster: Cluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    Object.keys(cluster.groups).map(async (group) => {
      const p = await cluster.currentPrimary(group);
      const info = String(await redisCall(p, cluster.password, ['INFO', 'all']));
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
      out[`${group} fork us`] = field('latest_fork_usec');
      out[`${group} aof rewriting`] = field('aof_rewrite_in_progress');
      out[`${group} used MB`] = Math.round(field('used_memory') / 1e6);
    }),
  );
  return out;
}

function wrkWindow(o: SnapshotBenchOptions, cluster: Cluster, level: Level, p: Prepared, half: 0 | 1, workDir: string): Promise<{ result: WrkResult }> {
  const per = Math.floor(p.nOrders / 2);
  return runWrk({
    script: 'slice',
    url: cluster.gatewayUrl,
    args: [half * per, per, o.threads],
    durationS: o.windowS,
    connections: o.connections,
    threads: o.threads,
    cpus: undefined,
    workDir,
    ...(level.kind === 'rate' ? { rate: level.rate } : {}),
  });
}

/** Every problem with the snapshots of a window: failed ones, and taken ones that are not exact. */
function problemsOf(taken: Taken[], p: Prepared): string[] {
  const loaded = { items: p.nItems, stock: p.stock, users: p.nUsers, credit: p.credit, perOrder: 2 };
  return taken.flatMap((t) => {
    const name = path.basename(t.dir);
    if (t.manifest === undefined) return [`${name}: not taken (${t.error})`];
    return [...fileProblems(t.dir, t.manifest), ...cutProblems(t.manifest, loaded)].map((x) => `${name}: ${x}`);
  });
}

function exhausted(w: WrkResult): number {
  return w.threads.reduce((n, t) => n + t.exhausted, 0);
}

async function runLevel(o: SnapshotBenchOptions, cluster: Cluster, api: ShopClient, components: Component[], level: Level, index: number): Promise<LevelResult> {
  const name = levelName(level);
  const dir = path.join(o.outDir, `level-${index}-${level.kind === 'full' ? 'full' : level.rate}`);
  log(`${name}: loading`);
  const p = await SCENARIO_DEFS.fresh.prepare(api, { durationS: 2 * o.windowS, maxRate: o.maxRate, threads: o.threads });
  // Let replicas and AOF catch up with the bulk load, as the bench does before a window.
  await sleep(2000);
  await quietMachine(components);
  log(`  ${o.windowS} s without snapshots (${o.connections} connections${level.kind === 'rate' ? `, held to ${level.rate}/s` : ''})`);
  const baseline = (await wrkWindow(o, cluster, level, p, 0, path.join(dir, 'without'))).result;
  await settled(cluster);
  await quietMachine(components);
  log(`  ${o.windowS} s with snapshots ${o.everyMs > 0 ? `every ${o.everyMs} ms` : 'back to back'}${o.overlap > 1 ? `, up to ${o.overlap} at once` : ''}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-snapshot-bench-'));
  try {
    const start = Date.now();
    // The last cut must fall inside the window: none starts in its last 3 s.
    const snapshots = snapshotsUntil(cluster, { root, deadline: start + (o.windowS - 3) * 1000, everyMs: o.everyMs, overlap: o.overlap, max: o.maxSnapshots, log, onCut: () => forkProbe(cluster) });
    const withSnapshots = (await wrkWindow(o, cluster, level, p, 1, path.join(dir, 'with'))).result;
    const taken = await snapshots;
    fs.copyFileSync(path.join(root, 'snapshot.log'), path.join(dir, 'snapshot.log'));
    log('  checking every snapshot');
    const failures = problemsOf(taken, p);
    for (const w of [baseline, withSnapshots]) if (exhausted(w) > 0) failures.push(`fresh orders exhausted in a window: raise --max-rate (the run is invalid)`);
    const cuts = taken.flatMap((t) => (t.manifest === undefined ? [] : [{ pauseMs: t.manifest.pauseMs, drainMs: t.manifest.drainMs, tookMs: t.manifest.tookMs, atMs: t.atMs, probe: t.probe }]));
    await settled(cluster);
    return { name, nOrders: p.nOrders, baseline: windowOf(baseline), withSnapshots: windowOf(withSnapshots), stats: pauseStats(cuts), cuts, failures };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function writeReport(o: SnapshotBenchOptions, argv: string[], levels: LevelResult[], startedAt: string): void {
  fs.mkdirSync(o.outDir, { recursive: true });
  fs.writeFileSync(path.join(o.outDir, 'result.json'), `${JSON.stringify({ startedAt, argv, options: o, machine: { cpus: os.cpus().length, kernel: os.release(), node: process.versions.node }, levels }, null, 2)}\n`);
  const text = [
    `# Snapshot pauses under load (${startedAt})`,
    '',
    `\`npm run bench:snapshot -- ${argv.join(' ')}\` on ${os.cpus().length} cores; ${o.shards} shard(s), wrk ${o.connections} connections, windows of ${o.windowS} s, snapshots ${o.everyMs > 0 ? `every ${o.everyMs} ms` : 'back to back'}${o.overlap > 1 ? `, up to ${o.overlap} at once` : ''}.`,
    '',
    summaryTable(levels),
    '',
    'Pauses in the order taken (ms):',
    '',
    cutsList(levels),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(o.outDir, 'report.md'), text);
}

async function main(argv: string[]): Promise<number> {
  let o;
  try {
    o = parseSnapshotBenchCli(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (which('wrk') === undefined) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  const startedAt = new Date().toISOString();
  log(`starting an HA cluster (${o.shards} shard(s))`);
  const cluster = await startCluster({ layout: 'ha', replicas: 2, shards: o.shards });
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping wrk, the snapshot and the cluster`);
    killWrk();
    stopSnapshot();
    cluster.stop().then(
      () => process.exit(130),
      () => process.exit(130),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const api = new ShopClient(cluster.gatewayUrl, 16);
  const levels: LevelResult[] = [];
  try {
    await cluster.waitHealthy(60_000);
    const components: Component[] = cluster.processes.map((p) => ({ name: p.name, pids: () => (p.pid === undefined ? [] : [p.pid]) }));
    if (o.warmupS > 0) {
      log(`warming up for ${o.warmupS} s (not measured)`);
      const w = await warmUp(api, o.warmupS, o.maxRate, o.threads);
      await runWrk({ script: w.script, url: cluster.gatewayUrl, args: w.args, durationS: o.warmupS, connections: o.connections, threads: o.threads, cpus: undefined, workDir: path.join(o.outDir, 'warmup') });
      await settled(cluster);
    }
    for (const [i, level] of o.levels.entries()) {
      levels.push(await runLevel(o, cluster, api, components, level, i));
      writeReport(o, argv, levels, startedAt);
    }
  } finally {
    await api.close();
    log('stopping the cluster');
    await cluster.stop();
  }
  process.stdout.write(`${summaryTable(levels)}\n\n${cutsList(levels)}\n\nreport: ${path.relative(process.cwd(), path.join(o.outDir, 'report.md'))}\n`);
  const failed = levels.some((l) => l.failures.length > 0 || l.baseline.non2xx + l.withSnapshots.non2xx + l.baseline.socketErrors + l.withSnapshots.socketErrors > 0);
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`snapshot bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
