/**
 * Takes snapshots of the bench's cluster the way an operator does: `npm run snapshot` once
 * per snapshot, through the cluster's Sentinels (the password in the environment, never on
 * the command line), so each cut runs in a fresh process at normal priority and its check
 * drops to the lowest once the cut is taken (snapshot/main.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@shop/launcher/entry.js';
import type { Cluster } from '@shop/launcher/cluster.js';
import { MANIFEST, type Manifest } from '@shop/launcher/snapshot/take.js';

export interface Taken {
  dir: string;
  /** From the window's start to this snapshot's start, ms. */
  atMs: number;
  /** The CLI's whole run, ms. */
  wallMs: number;
  manifest: Manifest | undefined;
  /** Why there is no manifest. */
  error: string | undefined;
  /** What `onCut` read just after the cut (each primary's last fork time). */
  probe: Record<string, number> | undefined;
}

/** The built CLI beside a built bench; from source (tsx) beside a bench run from source. */
function snapshotCommand(): { cmd: string; args: string[] } {
  const root = repoRoot();
  if (import.meta.url.endsWith('.ts')) return { cmd: process.execPath, args: ['--import', 'tsx', '--conditions=source', path.join(root, 'packages/launcher/src/snapshot/main.ts')] };
  return { cmd: process.execPath, args: [path.join(root, 'packages/launcher/dist/src/snapshot/main.js')] };
}

/** Snapshot processes running (SIGINT path). */
const running = new Set<ChildProcess>();

/** Stops the snapshots under way (SIGINT path): each CLI lifts its freeze and removes its partial directory. */
export function stopSnapshot(): void {
  for (const child of running) if (child.exitCode === null) child.kill('SIGTERM');
}

/** One `npm run snapshot`: `cut` resolves once its cut is taken (or it ended), `done` once it ended. */
function takeOne(cluster: Cluster, dir: string, logFile: string): { cut: Promise<boolean>; done: Promise<Omit<Taken, 'atMs' | 'probe'>> } {
  const { cmd, args } = snapshotCommand();
  const sentinels = cluster.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  const t0 = Date.now();
  const child = spawn(cmd, [...args, dir, '--sentinels', sentinels, '--shards', String(cluster.shards), '--retries', '0'], {
    cwd: repoRoot(),
    env: { ...process.env, REDIS_PASSWORD: cluster.password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let cutTaken!: (taken: boolean) => void;
  const cut = new Promise<boolean>((resolve) => (cutTaken = resolve));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    // take.ts logs this line right after the thaw.
    if (out.includes('cut taken:')) cutTaken(true);
  });
  // A snapshot of a few hundred thousand orders checks in tens of seconds; this is the backstop.
  const backstop = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const done = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', resolve);
  })
    .finally(() => {
      clearTimeout(backstop);
      running.delete(child);
      cutTaken(false);
    })
    .then((code) => {
      fs.appendFileSync(logFile, `--- ${path.basename(dir)} (exit ${code})\n${out}`);
      const wallMs = Date.now() - t0;
      const file = path.join(dir, MANIFEST);
      if (code !== 0 || !fs.existsSync(file)) return { dir, wallMs, manifest: undefined, error: `exit ${code}: ${out.trim().split('\n').pop() ?? ''}` };
      return { dir, wallMs, manifest: JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest, error: undefined };
    });
  return { cut, done };
}

export interface TakeOptions {
  root: string;
  /** Epoch ms: no snapshot starts after it. */
  deadline: number;
  /** Least time from one snapshot's start to the next's; 0: none. */
  everyMs: number;
  /** Most snapshots at once; the next starts only once the last one's cut is taken (two freezes must not overlap). */
  overlap: number;
  max: number;
  log: (line: string) => void;
  /** Read right after each cut, before anything else forks (kept in Taken.probe). */
  onCut?: () => Promise<Record<string, number>>;
}

/**
 * Snapshots into `root`/s<n> from now until the deadline or `max` of them: back to back, or
 * one every `everyMs`, and with `overlap` > 1 a new one while earlier ones still receive and
 * check their copies. Resolves once the last has ended.
 */
export async function snapshotsUntil(cluster: Cluster, o: TakeOptions): Promise<Taken[]> {
  const start = Date.now();
  const logFile = path.join(o.root, 'snapshot.log');
  fs.mkdirSync(o.root, { recursive: true });
  const all: Promise<Taken>[] = [];
  const inFlight = new Set<Promise<Taken>>();
  while (Date.now() < o.deadline && all.length < o.max) {
    const n = all.length;
    const atMs = Date.now() - start;
    const one = takeOne(cluster, path.join(o.root, `s${n}`), logFile);
    const probe = one.cut.then((taken) => (taken && o.onCut !== undefined ? o.onCut().catch(() => undefined) : undefined));
    const taken = Promise.all([one.done, probe]).then(([t, p]) => {
      o.log(t.manifest === undefined ? `  snapshot ${n + 1} FAILED: ${t.error}` : `  snapshot ${n + 1}: paused ${t.manifest.pauseMs} ms (drain ${t.manifest.drainMs} ms), ${(t.wallMs / 1000).toFixed(1)} s in all`);
      return { atMs, ...t, probe: p };
    });
    all.push(taken);
    inFlight.add(taken);
    // A rejection is the caller's, through Promise.all below.
    taken.finally(() => inFlight.delete(taken)).catch(() => undefined);
    await one.cut;
    await probe;
    const next = start + all.length * o.everyMs;
    if (next > Date.now()) await sleep(Math.min(next, o.deadline) - Date.now());
    while (inFlight.size >= o.overlap) await Promise.race(inFlight);
  }
  return Promise.all(all);
}
