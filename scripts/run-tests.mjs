#!/usr/bin/env node
// Runs every test file with node's test runner. Files are listed explicitly: on Node 20 a
// directory or quoted glob silently runs zero tests. Fails when no test file is found.
// Usage: npm test [-- --only unit|lua|e2e|chaos|launcher] [extra files]
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';

const groups = {
  unit: ['packages/common/test', 'packages/order/test', 'packages/stock/test', 'packages/payment/test', 'bench/test'],
  launcher: ['launcher/test'],
  e2e: ['test/e2e'],
  chaos: ['test/chaos'],
};
const args = process.argv.slice(2);
const only = args.indexOf('--only');
const chosen = only >= 0 ? args[only + 1].split(',') : Object.keys(groups);
const explicit = args.filter((a, i) => a.endsWith('.ts') && (only < 0 || i !== only + 1));

const files = explicit.length > 0 ? explicit : chosen.flatMap((g) => {
  if (!groups[g]) throw new Error(`unknown test group ${g}`);
  return groups[g].flatMap((dir) =>
    existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join(dir, f)) : [],
  );
});
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
console.log(`run-tests: ${files.length} files`);
// One file at a time: the end-to-end files start whole clusters, and this machine has 2 cores.
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
