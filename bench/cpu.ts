/**
 * CPU accounting from /proc: the CPU time of each component of the system, where a component
 * is a set of root pids counted with all their live descendants (nginx workers are children
 * of the master; a Redis fork for a rewrite is a child of its server).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times. */
export const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  ppid: number;
  /** utime + stime: every thread of the process. */
  self: number;
  /** stime alone: time in the kernel (syscalls, loopback TCP). */
  sys: number;
  /** cutime + cstime: children it has reaped. */
  reaped: number;
  reapedSys: number;
}

function readStat(pid: number | 'self'): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(f[i] ?? 0);
  return { ppid: n(1), self: n(11) + n(12), sys: n(12), reaped: n(13) + n(14), reapedSys: n(14) };
}

function allStats(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s !== undefined) out.set(Number(name), s);
  }
  return out;
}

/** Each root pid and all its live descendants (nginx workers). */
function tree(stats: Map<number, ProcStat>, roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) {
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [pid]);
    else list.push(pid);
  }
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid) || !stats.has(pid)) continue;
    seen.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

/** Ticks of each pid's tree: itself (all threads), its reaped children and its live descendants. */
function treeTicks(stats: Map<number, ProcStat>, roots: number[], kernelOnly = false): number {
  let ticks = 0;
  for (const pid of tree(stats, roots)) {
    const s = stats.get(pid)!;
    ticks += kernelOnly ? s.sys + s.reapedSys : s.self + s.reaped;
  }
  return ticks;
}

/**
 * read- and write-family system calls of a process (all threads), from /proc/<pid>/io.
 * Counts read/readv/write/writev, the calls Redis and Node use on sockets; nginx's
 * recv/send are not counted there.
 */
function syscalls(pid: number): number {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    const n = (key: string): number => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(io)?.[1] ?? 0);
    return n('syscr') + n('syscw');
  } catch {
    return 0;
  }
}

/**
 * Context switches of a process, all its threads (voluntary: it waited, typically for a
 * socket; involuntary: the scheduler took the core), from /proc/<pid>/task/<tid>/status.
 * Each is a wake-up the kernel paid for; batching more work per wake-up lowers them.
 */
function contextSwitches(pid: number): number {
  let total = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const n = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)$`, 'm').exec(status)?.[1] ?? 0);
      total += n('voluntary_ctxt_switches') + n('nonvoluntary_ctxt_switches');
    }
  } catch {
    // gone: counted up to here
  }
  return total;
}

/** A component: a name (e.g. "redis:order") and the root pids that make it up, read live. */
export interface Component {
  name: string;
  pids: () => number[];
}

export interface CpuSnapshot {
  atMs: number;
  /** Seconds of CPU per component since its processes started. */
  components: Record<string, number>;
  /** ... of which in the kernel (stime). */
  componentsSys: Record<string, number>;
  /** read/write system calls per component since its processes started (see `syscalls`). */
  componentsSyscalls: Record<string, number>;
  /** Context switches per component, all threads, of its live processes (see `contextSwitches`). */
  componentsCtxSwitches: Record<string, number>;
  /** This bench process itself (the sampler, wrk runner, checks). */
  benchSelf: number;
  /** Children of this process that exited: wrk, once it is reaped. */
  benchReaped: number;
  /** Whole machine, from /proc/stat: busy and total CPU seconds (all cores). */
  machineBusy: number;
  machineTotal: number;
}

function machine(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
  const v = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / CLK_TCK, total: (busy + idle + iowait) / CLK_TCK };
}

export function cpuSnapshot(components: Component[]): CpuSnapshot {
  const stats = allStats();
  const self = readStat('self');
  const m = machine();
  return {
    atMs: Date.now(),
    components: Object.fromEntries(components.map((c) => [c.name, treeTicks(stats, c.pids()) / CLK_TCK])),
    componentsSys: Object.fromEntries(components.map((c) => [c.name, treeTicks(stats, c.pids(), true) / CLK_TCK])),
    componentsSyscalls: Object.fromEntries(components.map((c) => [c.name, sum(tree(stats, c.pids()).map(syscalls))])),
    componentsCtxSwitches: Object.fromEntries(components.map((c) => [c.name, sum(tree(stats, c.pids()).map(contextSwitches))])),
    benchSelf: (self?.self ?? 0) / CLK_TCK,
    benchReaped: (self?.reaped ?? 0) / CLK_TCK,
    machineBusy: m.busy,
    machineTotal: m.total,
  };
}

export interface CpuDelta {
  wallS: number;
  /** CPU seconds per component over the interval. */
  components: Record<string, number>;
  componentsSys: Record<string, number>;
  componentsSyscalls: Record<string, number>;
  componentsCtxSwitches: Record<string, number>;
  loadGenerator: number;
  benchSelf: number;
  machineBusy: number;
  machineTotal: number;
  /** Busy CPU of the machine not accounted to any component above (other tenants, kernel work). */
  unaccounted: number;
}

/**
 * CPU spent between two snapshots. The load generator is what this process reaped in between:
 * wrk is the only child that exits during a run.
 */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): CpuDelta {
  const delta = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(Object.keys(y).map((k) => [k, Math.max(0, (y[k] ?? 0) - (x[k] ?? 0))]));
  const components = delta(a.components, b.components);
  const componentsSys = delta(a.componentsSys, b.componentsSys);
  const componentsSyscalls = delta(a.componentsSyscalls, b.componentsSyscalls);
  const componentsCtxSwitches = delta(a.componentsCtxSwitches, b.componentsCtxSwitches);
  const loadGenerator = b.benchReaped - a.benchReaped;
  const benchSelf = b.benchSelf - a.benchSelf;
  const machineBusy = b.machineBusy - a.machineBusy;
  const accounted = Object.values(components).reduce((x, y) => x + y, 0) + loadGenerator + benchSelf;
  return {
    wallS: (b.atMs - a.atMs) / 1000,
    components,
    componentsSys,
    componentsSyscalls,
    componentsCtxSwitches,
    loadGenerator,
    benchSelf,
    machineBusy,
    machineTotal: b.machineTotal - a.machineTotal,
    unaccounted: Math.max(0, machineBusy - accounted),
  };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
