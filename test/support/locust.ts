/** Runs `npm run load`'s entry (from source) and reads locust's CSV stats of the run. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '@shop/launcher/entry.js';

export const locustInstalled = spawnSync('/bin/sh', ['-c', 'command -v locust']).status === 0;

export interface RouteStats {
  requests: number;
  failures: number;
}

export interface LoadRun {
  status: number | null;
  output: string;
  /** By locust's request name (`/orders/checkout/[order_id]`, ..., `Aggregated`). */
  stats: Map<string, RouteStats>;
}

/** Rows of locust's `<prefix>_stats.csv`: request names hold no comma or quote (ours do not). */
export function parseStatsCsv(text: string): Map<string, RouteStats> {
  // locust creates the file when it starts and fills it as it runs: a run stopped before
  // its first request leaves it empty.
  if (text.trim() === '') return new Map();
  const [header, ...rows] = text.trim().split('\n').map((l) => l.split(',').map((c) => c.replace(/^"|"$/g, '')));
  const col = (name: string): number => {
    const i = header?.indexOf(name) ?? -1;
    if (i < 0) throw new Error(`locust stats CSV has no column ${name}: ${header?.join(',')}`);
    return i;
  };
  const [name, requests, failures] = [col('Name'), col('Request Count'), col('Failure Count')];
  return new Map(rows.map((r) => [r[name] ?? '', { requests: Number(r[requests]), failures: Number(r[failures]) }]));
}

/** `npm run load -- <args> --csv <tmp>`, run to its end (child killed after timeoutMs). */
export async function runLoad(args: string[], timeoutMs: number): Promise<LoadRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-load-'));
  const prefix = path.join(dir, 'run');
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', 'bench/load/main.ts', ...args, '--csv', prefix], {
    cwd: repoRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  clearTimeout(timer);
  const csv = `${prefix}_stats.csv`;
  const stats = fs.existsSync(csv) ? parseStatsCsv(fs.readFileSync(csv, 'utf8')) : new Map<string, RouteStats>();
  fs.rmSync(dir, { recursive: true, force: true });
  return { status, output, stats };
}
