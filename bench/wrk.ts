/** Runs Debian's wrk with one of the Lua scripts in bench/wrk/ and reads its JSON summary. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '@shop/launcher/entry.js';

export interface WrkThread {
  index: number;
  sent: number;
  exhausted: number;
  /** Slice scripts only (-1 otherwise): ids firstId .. nextId-1 were sent. */
  firstId: number;
  nextId: number;
}

export interface WrkResult {
  durationUs: number;
  requests: number;
  bytes: number;
  errConnect: number;
  errRead: number;
  errWrite: number;
  /** Answers with status >= 400 (wrk counts these as "Non-2xx or 3xx"). */
  errStatus: number;
  errTimeout: number;
  latMinUs: number;
  latMaxUs: number;
  latMeanUs: number;
  latStdevUs: number;
  latPercentilesUs: Record<string, number>;
  threads: WrkThread[];
}

export interface WrkRun {
  script: 'random' | 'slice';
  url: string;
  args: (string | number)[];
  durationS: number;
  connections: number;
  threads: number;
  /** taskset CPU list, or undefined for no pinning. */
  cpus: string | undefined;
  /** Slice only: hold the run to about this many requests/s (paced.lua); undefined for as many as it can. */
  rate?: number;
  /** Where the combined script and wrk's output are kept. */
  workDir: string;
  onStart?: (pid: number) => void;
}

const luaDir = (): string => path.join(repoRoot(), 'bench', 'wrk');

/** wrk takes one script: the shared hooks go in front of the scenario's, a pacing after it. */
function combinedScript(scripts: string[], workDir: string): string {
  const text = ['common', ...scripts].map((s) => fs.readFileSync(path.join(luaDir(), `${s}.lua`), 'utf8')).join('\n');
  const file = path.join(workDir, `${scripts.join('-')}.lua`);
  fs.writeFileSync(file, text);
  return file;
}

let current: ChildProcess | undefined;

/** Stops a wrk that is running (SIGINT path). */
export function killWrk(): void {
  if (current?.pid !== undefined && current.exitCode === null) current.kill('SIGTERM');
}

export async function runWrk(run: WrkRun): Promise<{ result: WrkResult; stdout: string }> {
  fs.mkdirSync(run.workDir, { recursive: true });
  if (run.rate !== undefined && run.script !== 'slice') throw new Error('a paced wrk run walks fresh orders (slice.lua)');
  const paced = run.rate !== undefined;
  const script = combinedScript(paced ? [run.script, 'paced'] : [run.script], run.workDir);
  const wrkArgs = [
    '-t', String(run.threads),
    '-c', String(run.connections),
    '-d', `${run.durationS}s`,
    // A checkout may legitimately wait on contention; count it as slow, not as a timeout.
    '--timeout', '30s',
    '-s', script,
    run.url,
    '--',
    ...run.args.map(String),
    ...(paced ? [String(run.rate), String(run.connections)] : []),
  ];
  const [cmd, args] = run.cpus === undefined ? ['wrk', wrkArgs] : ['taskset', ['-c', run.cpus, 'wrk', ...wrkArgs]];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  current = child;
  if (child.pid !== undefined) run.onStart?.(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // Bounded in time whatever happens: wrk stops itself after -d; this is the backstop.
  const backstop = setTimeout(() => child.kill('SIGKILL'), (run.durationS + 60) * 1000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).finally(() => {
    clearTimeout(backstop);
    current = undefined;
  });
  fs.writeFileSync(path.join(run.workDir, `wrk-${run.script}${paced ? '-paced' : ''}.out`), stdout + (stderr !== '' ? `\n--- stderr\n${stderr}` : ''));
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (code !== 0 || line === undefined) {
    throw new Error(`wrk exited with ${code}${line === undefined ? ' without a result line' : ''}: ${stderr.trim() || stdout.trim()}`);
  }
  return { result: JSON.parse(line.slice('BENCH_RESULT '.length)) as WrkResult, stdout };
}
