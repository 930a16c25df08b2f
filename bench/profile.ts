/**
 * Summaries of the services' V8 CPU profiles (`--cpu-prof`): self time by package or file and
 * the hottest functions, so the report says where a service's CPU goes without opening
 * DevTools.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Loaded into each service with NODE_OPTIONS=--import=<file> (Node 20 refuses --cpu-prof in
 * NODE_OPTIONS, and the services' command lines are not ours): profiles through the inspector,
 * from one SIGUSR2 to the next, so a profile covers a measured window and not the start-up
 * and batch_init around it. Written out at run time so it needs no build step or lint rule.
 */
const PRELOAD = `import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Session } from 'node:inspector';
const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  let on = false;
  let seq = 0;
  const stop = () => {
    on = false;
    session.post('Profiler.stop', (err, res) => {
      if (err || !res) return;
      fs.mkdirSync(dir, { recursive: true });
      const tmp = path.join(dir, 'tmp.' + process.pid);
      fs.writeFileSync(tmp, JSON.stringify(res.profile));
      fs.renameSync(tmp, path.join(dir, 'CPU.bench.' + seq++ + '.' + process.pid + '.0.cpuprofile'));
    });
  };
  process.on('SIGUSR2', () => {
    if (on) stop();
    else {
      on = true;
      session.post('Profiler.start');
    }
  });
  process.on('exit', () => { if (on) stop(); });
}
`;

/** Environment that makes a service profile itself into `dir` (after any `nodeOptions` of the run). */
export function profilingEnv(dir: string, nodeOptions?: string): Record<string, string> {
  fs.mkdirSync(dir, { recursive: true });
  const preload = path.join(dir, 'preload.mjs');
  fs.writeFileSync(preload, PRELOAD);
  const own = `--import=${preload}`;
  return { NODE_OPTIONS: nodeOptions === undefined ? own : `${nodeOptions} ${own}`, BENCH_CPU_PROF_DIR: dir };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  /** Service name, from the pid → replica map taken while the cluster ran. */
  replica: string;
  totalMs: number;
  /** Self time by bucket: npm package, node internals, our source files, GC, idle. */
  byBucket: { bucket: string; ms: number; share: number }[];
  topFunctions: { fn: string; where: string; ms: number; share: number }[];
}

function bucketOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native / V8 builtins)';
  if (url.startsWith('node:')) return url;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm !== null) return nm[1]!;
  const ours = /\/(packages\/[^/]+\/src\/.*|packages\/[^/]+\/.*)$/.exec(url);
  return ours !== null ? ours[1]!.replace(/^packages\//, '') : url;
}

export function summariseProfile(file: string, replica: string, top = 15): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  // Self time per node from the sample stream (hitCount ignores the uneven sampling intervals).
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap until the next one.
    const dt = deltas[i + 1] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const byBucket = new Map<string, number>();
  const byFn = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    total += us;
    const bucket = bucketOf(url, functionName);
    byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + us);
    const where = url === '' ? '' : `${bucket === url ? path.basename(url) : bucket}:${lineNumber + 1}`;
    const key = `${functionName}@${where}`;
    const e = byFn.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 };
    e.us += us;
    byFn.set(key, e);
  }
  const share = (us: number): number => (total > 0 ? us / total : 0);
  return {
    file: path.basename(file),
    replica,
    totalMs: total / 1000,
    byBucket: [...byBucket]
      .sort((a, b) => b[1] - a[1])
      .map(([bucket, us]) => ({ bucket, ms: us / 1000, share: share(us) })),
    topFunctions: [...byFn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, share: share(e.us) })),
  };
}

const profileFiles = (dir: string, seq: number): string[] =>
  fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith(`CPU.bench.${seq}.`) && f.endsWith('.cpuprofile')) : [];

/**
 * The `seq`-th profile of each process (named CPU.bench.<seq>.<pid>.0.cpuprofile by the
 * preload), once all `expected` processes have written theirs or `timeoutMs` passed.
 */
export async function collectProfiles(dir: string, seq: number, replicaOfPid: Map<number, string>, expected: number, timeoutMs = 15_000): Promise<ProfileSummary[]> {
  const until = Date.now() + timeoutMs;
  while (profileFiles(dir, seq).length < expected && Date.now() < until) await sleep(200);
  return profileFiles(dir, seq)
    .map((f) => {
      const pid = Number(f.split('.')[3]);
      return summariseProfile(path.join(dir, f), replicaOfPid.get(pid) ?? `pid ${pid}`);
    })
    .sort((a, b) => a.replica.localeCompare(b.replica));
}
