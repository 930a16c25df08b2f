/**
 * One bench invocation: for each durability setting, a cluster (or the --url target), then
 * each scenario: load, measure under wrk, let the system settle, check the final state.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type Cluster, type ServiceName } from '@shop/launcher/cluster.js';
import type { ManagedProcess } from '@shop/launcher/supervisor.js';
import { SERVICE_NODE_OPTIONS } from '@shop/launcher/topology.js';
import { ShopClient } from '@shop/launcher/api.js';
import { startSkeleton, type Skeleton } from './ceiling/skeleton.js';
import { isOurs, type BenchOptions, type Durability, type ScenarioName } from './cli.js';
import { cpuDelta, cpuSnapshot, type Component, type CpuDelta } from './cpu.js';
import { batchSizesDelta, gcDelta, readPoint, recordDelta, type BatchSizes, type GcPauses, type MetricsPoint } from './prom.js';
import { commandStatsDelta, compactAofs, readCommandStats, readReplOffsets, type CommandStats } from './redis-stats.js';
import { Sampler, type Replica, type SeriesPoint } from './sampler.js';
import { collectProfiles, profilingEnv, type ProfileSummary } from './profile.js';
import { SCENARIO_DEFS, ceilingPrepared, warmUp, type BatchTiming, type Check, type Prepared } from './scenarios.js';
import { openReader } from './state.js';
import { killWrk, runWrk, type WrkResult } from './wrk.js';

export interface ScenarioResult {
  scenario: ScenarioName;
  label: string;
  title: string;
  headline: 'requests' | 'commits';
  durability: Durability;
  batchInit: BatchTiming[];
  nOrders: number;
  wrk: WrkResult;
  wrkCommand: string;
  /** Wall seconds from just before wrk started to just after it exited. */
  windowS: number;
  requestsPerS: number;
  /** Commits in the window: the order service's counter, or wrk's 200s without metrics (--url). */
  committed: number;
  committedPerS: number;
  /** Checkout outcomes counted by the order service during the window. */
  outcomes: Record<string, number>;
  /** ... and until the system settled after wrk stopped. */
  outcomesSettled: Record<string, number>;
  /** BUSY answers to checkout reserves during the window, by participant (order service metrics); {} without metrics. */
  busyWaits: Record<string, number>;
  /** Public checkout answers by HTTP status (order service metrics, settled). */
  statuses: Record<string, number>;
  /** Requests answered per service/surface during the window. */
  requests: Record<string, number>;
  /** Calls per batch during the window, by "<service> <kind>" (shop_batch_size); absent without metrics. */
  batchSizes?: Record<string, BatchSizes>;
  /** Garbage collection in the services over the wrk window, by "<service> <kind>". */
  gc?: Record<string, GcPauses>;
  settleMs: number;
  /** Cores busy outside the system under test in the 2 s before the run. */
  backgroundCores: number;
  cpu: CpuDelta;
  /** Which group each component (process) of `cpu` and `series` belongs to. */
  componentGroups: Record<string, string>;
  /** CPU seconds per component group (see groupOf). */
  cpuByGroup: Record<string, number>;
  /** ... of which in the kernel (stime). */
  cpuSysByGroup: Record<string, number>;
  /** read/write system calls in the window, by component (Redis and Node; not nginx's recv/send). */
  syscallsByGroup: Record<string, number>;
  /** Context switches per component group over the window, all threads. */
  ctxSwitchesByGroup: Record<string, number>;
  /** Bytes of replication stream each group's primary produced over the window (a failover in it makes this meaningless). */
  replicatedBytes: Record<string, number> | undefined;
  redisCommands: CommandStats | undefined;
  series: SeriesPoint[];
  checks: Check[];
  /** With --cpu-prof: each service process's profile over the wrk window. */
  profiles?: ProfileSummary[];
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; model: string; kernel: string; node: string; wrk: string };
  options: BenchOptions;
  target: string;
  runs: ScenarioResult[];
}

interface Target {
  durability: Durability;
  gatewayUrl: string;
  cluster: Cluster | undefined;
  replicas: Replica[];
  components: Component[];
  groupOf: (component: string, primaries: Set<string>) => string;
}

/** Whatever is running now, so SIGINT can stop it. */
let live: Cluster | undefined;
let liveSkeleton: Skeleton | undefined;

export async function abort(): Promise<void> {
  killWrk();
  await liveSkeleton?.stop();
  await live?.stop();
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const SERVICE_LABEL: Record<ServiceName, string> = { order: 'order service', stock: 'stock service', payment: 'payment service' };

/**
 * The row of the CPU tables a cluster process is counted in: by process kind and service,
 * a Redis server as its service's primary or replica whatever shard group it serves
 * (`stock-s1-redis-0` is a stock Redis), `primaries` naming the primary of every group.
 */
export function processGroup(p: Pick<ManagedProcess, 'name' | 'kind' | 'service'>, primaries: ReadonlySet<string>): string {
  switch (p.kind) {
    case 'nginx':
      return 'nginx';
    case 'sentinel':
      return 'sentinels';
    case 'service':
      return p.service === undefined ? 'services' : SERVICE_LABEL[p.service];
    case 'redis':
      return `${p.service ?? '?'} redis ${primaries.has(p.name) ? 'primary' : 'replicas'}`;
    case 'proxy':
      return 'fault proxy';
  }
}

function clusterTarget(cluster: Cluster, durability: Durability): Target {
  const byName = new Map(cluster.processes.map((p) => [p.name, p]));
  return {
    durability,
    gatewayUrl: cluster.gatewayUrl,
    cluster,
    replicas: (['order', 'stock', 'payment'] as const).flatMap((s) =>
      cluster.services[s].map((r) => ({ name: r.name, service: s, internalUrl: r.internalUrl })),
    ),
    components: cluster.processes.map((p) => ({ name: p.name, pids: () => (p.pid === undefined ? [] : [p.pid]) })),
    groupOf: (name, primaries) => {
      const p = byName.get(name);
      return p === undefined ? name : processGroup(p, primaries);
    },
  };
}

/** The skeleton's processes are grouped by the service they stand in for, beside that service's row. */
const STAND_IN_LABEL: Record<ServiceName, string> = { order: 'order stand-in (ceiling)', stock: 'stock stand-in (ceiling)', payment: 'payment stand-in (ceiling)' };

function ceilingTarget(cluster: Cluster, skeleton: Skeleton, durability: Durability): Target {
  const base = clusterTarget(cluster, durability);
  const standIns = new Map(skeleton.processes.map((p) => [p.name, p]));
  return {
    ...base,
    // No /metrics: committed is wrk's 200s, each of which is a recorded commit (the checks).
    replicas: [],
    components: [...base.components, ...skeleton.processes.map((p) => ({ name: p.name, pids: () => (p.pid === undefined ? [] : [p.pid]) }))],
    groupOf: (name, primaries) => {
      const p = standIns.get(name);
      return p === undefined ? base.groupOf(name, primaries) : STAND_IN_LABEL[p.service];
    },
  };
}

function urlTarget(opts: BenchOptions): Target {
  return {
    durability: 'unknown',
    gatewayUrl: opts.url!,
    cluster: undefined,
    replicas: [],
    components: opts.pids.map((pid) => ({ name: `pid ${pid}`, pids: () => [pid] })),
    groupOf: (name) => name,
  };
}

/** Every process of the cluster and all their threads on the given CPUs (the scaling runs). */
function pinCluster(pids: (number | undefined)[], cpus: string): void {
  for (const root of pids) {
    if (root === undefined) continue;
    const all = [root, ...descendants(root)];
    for (const pid of all) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  }
}

function descendants(root: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === root) out.push(Number(name), ...descendants(Number(name)));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The primary of every Redis group: every shard of every service (`stock`, `stock-s1`, ...). */
export async function primariesOf(cluster: Pick<Cluster, 'groups' | 'currentPrimary'> | undefined): Promise<Set<string>> {
  if (cluster === undefined) return new Set();
  const names = await Promise.all(Object.keys(cluster.groups).map(async (g) => (await cluster.currentPrimary(g)).name));
  return new Set(names);
}

/**
 * Cores busy on the machine but not in our system while it idles: the machine is shared,
 * and a busy neighbour takes cores the system under test would have had.
 */
async function backgroundCores(components: Component[]): Promise<number> {
  const a = cpuSnapshot(components);
  await sleep(2000);
  const d = cpuDelta(a, cpuSnapshot(components));
  return Math.max(0, d.machineBusy - Object.values(d.components).reduce((x, y) => x + y, 0) - d.benchSelf) / d.wallS;
}

/**
 * Waits (up to `maxMs`) until the machine is quiet outside the system: 2 s after a
 * batch_init of 100k orders it read 1.5-1.7 cores busy in work charged to no process, which
 * a run started then would have paid for. Returns the last reading.
 */
export async function quietMachine(components: Component[], maxMs = 40_000): Promise<number> {
  const t0 = Date.now();
  let background = await backgroundCores(components);
  while (background > 0.2 && Date.now() - t0 < maxMs) background = await backgroundCores(components);
  const waited = Date.now() - t0;
  if (waited > 2500) log(`  waited ${(waited / 1000).toFixed(0)} s for the machine to quiet down (${background.toFixed(2)} cores busy outside the system)`);
  return background;
}

async function point(t: Target): Promise<MetricsPoint | undefined> {
  return t.replicas.length === 0 ? undefined : readPoint(t.replicas);
}

/** Until no checkout is unfinished and the order service's counters stop moving. */
async function settle(t: Target, reader: { unfinished(): Promise<number | undefined> }, maxMs = 60_000): Promise<number> {
  const t0 = Date.now();
  let prev = -1;
  while (Date.now() - t0 < maxMs) {
    const [p, open] = await Promise.all([point(t), reader.unfinished()]);
    const total = p === undefined ? 0 : Object.values(p.checkouts).reduce((a, b) => a + b, 0);
    if ((open ?? 0) === 0 && total === prev) return Date.now() - t0;
    prev = total;
    await sleep(500);
  }
  log(`system did not settle within ${maxMs} ms`);
  return Date.now() - t0;
}

/** SIGUSR2 starts or stops the profiler of every service process (see profile.ts). */
function toggleProfilers(cluster: Cluster): Map<number, string> {
  const pids = new Map<number, string>();
  for (const p of cluster.processes) {
    if (p.kind !== 'service' || p.pid === undefined) continue;
    pids.set(p.pid, p.name);
    p.signal('SIGUSR2');
  }
  return pids;
}

async function runScenario(
  name: ScenarioName,
  t: Target,
  opts: BenchOptions,
  api: ShopClient,
  profiling: { dir: string; seq: number } | undefined,
): Promise<ScenarioResult> {
  const def = SCENARIO_DEFS[name];
  const workDir = path.join(opts.outDir, `${name}-durability-${t.durability}`);
  log(`${def.title} (durability ${t.durability}): loading`);
  const prepared = await def.prepare(api, { durationS: opts.durationS, maxRate: opts.maxRate, threads: opts.threads });
  for (const b of prepared.timings) log(`  ${b.call} n=${b.n}: ${b.ms.toFixed(0)} ms`);
  // Let replicas and AOF catch up with the bulk load so it is not billed to the run.
  await sleep(2000);
  if (t.cluster !== undefined) log(`  AOF of every Redis rewritten after the load: ${await compactAofs(t.cluster)} ms`);

  const background = await quietMachine(t.components);
  if (background > 0.2) log(`  warning: ${background.toFixed(2)} cores busy outside this system before the run`);
  const primaries = await primariesOf(t.cluster);
  let wrkPid: number | undefined;
  const sampler = new Sampler(t.replicas, [...t.components, { name: 'wrk', pids: () => (wrkPid === undefined ? [] : [wrkPid]) }]);
  const rs0 = t.cluster === undefined ? undefined : await readCommandStats(t.cluster);
  const ro0 = t.cluster === undefined ? undefined : await readReplOffsets(t.cluster);
  const m0 = await point(t);
  const c0 = cpuSnapshot(t.components);
  sampler.start();
  const profiled = profiling !== undefined && t.cluster !== undefined ? toggleProfilers(t.cluster) : undefined;
  const wrkArgs = {
    script: prepared.script,
    url: t.gatewayUrl,
    args: prepared.args,
    durationS: opts.durationS,
    connections: opts.connections,
    threads: opts.threads,
    cpus: opts.wrkCpus,
    workDir,
    onStart: (pid: number) => (wrkPid = pid),
  };
  log(`  wrk ${prepared.script}.lua for ${opts.durationS}s, ${opts.connections} connections`);
  let wrk: WrkResult;
  try {
    wrk = (await runWrk(wrkArgs)).result;
  } finally {
    wrkPid = undefined;
  }
  const c1 = cpuSnapshot(t.components);
  if (profiled !== undefined && t.cluster !== undefined) toggleProfilers(t.cluster);
  const m1 = await point(t);
  await sampler.stop();
  const rs1 = t.cluster === undefined ? undefined : await readCommandStats(t.cluster);
  const ro1 = t.cluster === undefined ? undefined : await readReplOffsets(t.cluster);

  const reader = await openReader(t.cluster !== undefined ? { cluster: t.cluster } : { url: t.gatewayUrl });
  try {
    const settleMs = await settle(t, reader);
    const m2 = await point(t);
    const cpu = cpuDelta(c0, c1);
    const outcomes = m0 && m1 ? recordDelta(m0.checkouts, m1.checkouts) : {};
    const outcomesSettled = m0 && m2 ? recordDelta(m0.checkouts, m2.checkouts) : {};
    const statuses = m0 && m2 ? recordDelta(m0.checkoutStatus, m2.checkoutStatus) : {};
    const cpuByGroup: Record<string, number> = {};
    const cpuSysByGroup: Record<string, number> = {};
    const syscallsByGroup: Record<string, number> = {};
    const ctxSwitchesByGroup: Record<string, number> = {};
    for (const [k, v] of Object.entries(cpu.components)) {
      const g = t.groupOf(k, primaries);
      cpuByGroup[g] = (cpuByGroup[g] ?? 0) + v;
      cpuSysByGroup[g] = (cpuSysByGroup[g] ?? 0) + (cpu.componentsSys[k] ?? 0);
      syscallsByGroup[g] = (syscallsByGroup[g] ?? 0) + (cpu.componentsSyscalls[k] ?? 0);
      ctxSwitchesByGroup[g] = (ctxSwitchesByGroup[g] ?? 0) + (cpu.componentsCtxSwitches[k] ?? 0);
    }
    cpuByGroup['wrk (load generator)'] = cpu.loadGenerator;
    cpuByGroup['bench process'] = cpu.benchSelf;
    cpuByGroup['unaccounted (kernel, other tenants)'] = cpu.unaccounted;
    const windowS = cpu.wallS;
    const committed = m0 && m1 ? (outcomes.committed ?? 0) : wrk.requests - wrk.errStatus;
    const result: ScenarioResult = {
      scenario: name,
      label: def.label,
      title: def.title,
      headline: def.headline,
      durability: t.durability,
      batchInit: prepared.timings,
      nOrders: prepared.nOrders,
      wrk,
      wrkCommand: `wrk -t${opts.threads} -c${opts.connections} -d${opts.durationS}s --timeout 30s -s bench/wrk/common.lua+${prepared.script}.lua ${t.gatewayUrl} -- ${prepared.args.join(' ')}`,
      windowS,
      requestsPerS: wrk.requests / (wrk.durationUs / 1e6),
      committed,
      committedPerS: committed / windowS,
      outcomes,
      outcomesSettled,
      busyWaits: m0 && m1 ? recordDelta(m0.busyWaits, m1.busyWaits) : {},
      statuses,
      requests: m0 && m1 ? recordDelta(m0.requests, m1.requests) : {},
      ...(m0 && m1 ? { batchSizes: batchSizesDelta(m0, m1), gc: gcDelta(m0, m1) } : {}),
      settleMs,
      backgroundCores: background,
      cpu,
      componentGroups: Object.fromEntries(t.components.map((c) => [c.name, t.groupOf(c.name, primaries)])),
      cpuByGroup,
      cpuSysByGroup,
      syscallsByGroup,
      ctxSwitchesByGroup,
      replicatedBytes: ro0 && ro1 ? Object.fromEntries(Object.keys(ro1).map((g) => [g, (ro1[g] ?? 0) - (ro0[g] ?? 0)])) : undefined,
      redisCommands: rs0 && rs1 ? commandStatsDelta(rs0, rs1) : undefined,
      series: sampler.series,
      checks: [],
      ...(profiling !== undefined && profiled !== undefined
        ? { profiles: await collectProfiles(profiling.dir, profiling.seq, profiled, profiled.size) }
        : {}),
    };
    if (opts.verify) {
      log('  checking the final state');
      result.checks = await def.verify({ reader, prepared, wrk, outcomes: m0 && m2 ? outcomesSettled : undefined, statuses, cluster: t.cluster });
    }
    log(
      `  ${result.requestsPerS.toFixed(0)} req/s, ${result.committedPerS.toFixed(0)} committed/s, p99 ${(wrk.latPercentilesUs['99']! / 1000).toFixed(1)} ms; checks ${result.checks.every((c) => c.ok) ? 'ok' : 'FAILED'}`,
    );
    for (const c of result.checks.filter((x) => !x.ok)) log(`  CHECK FAILED: ${c.name}: ${c.detail}`);
    return result;
  } finally {
    await reader.close();
  }
}

export async function runBench(opts: BenchOptions, onResult: (r: ScenarioResult) => void): Promise<void> {
  if (opts.layout === 'single' && opts.durability.includes('off')) {
    log('note: the single layout has no replicas, so durability on and off run the same configuration');
  }
  const ours = opts.scenarios.filter(isOurs);
  for (const durability of opts.durability) {
    if (ours.length > 0) await runOurs(opts, ours, durability, onResult);
    // After ours, on a cluster of its own: the same sitting, without our idle services beside it.
    if (opts.scenarios.includes('ceiling')) onResult(await runCeiling(opts, durability));
  }
}

async function runOurs(opts: BenchOptions, scenarios: ScenarioName[], durability: Durability, onResult: (r: ScenarioResult) => void): Promise<void> {
  let target: Target;
  const profileDir = path.join(opts.outDir, `profiles-durability-${durability}`);
  if (opts.url === undefined) {
    log(`starting a ${opts.layout} cluster, durability ${durability}`);
    // 'on' keeps the topology's own setting (HA: one replica acknowledges each write).
    const env: Record<string, string> = durability === 'off' ? { REDIS_ACK_REPLICAS: '0' } : {};
    if (opts.nodeOptions !== undefined) env.NODE_OPTIONS = opts.nodeOptions;
    // Each service profiles from one SIGUSR2 to the next: around each wrk window (profile.ts).
    if (opts.cpuProf) Object.assign(env, profilingEnv(profileDir, opts.nodeOptions ?? SERVICE_NODE_OPTIONS));
    live = await startCluster({
      layout: opts.layout,
      replicas: opts.replicas,
      shards: opts.shards,
      serviceEnv: { order: { ...env }, stock: { ...env }, payment: { ...env } },
    });
    target = clusterTarget(live, durability);
  } else {
    target = urlTarget(opts);
  }
  const api = new ShopClient(target.gatewayUrl, 16);
  try {
    if (live !== undefined) {
      await live.waitHealthy(60_000);
      if (opts.clusterCpus !== undefined) pinCluster(live.processes.map((p) => p.pid), opts.clusterCpus);
    } else if (opts.clusterCpus !== undefined) {
      pinCluster(opts.pids, opts.clusterCpus);
    }
    if (opts.warmupS > 0) {
      log(`warming up for ${opts.warmupS}s (not measured)`);
      await warmWith(opts, target.gatewayUrl, await warmUp(api, opts.warmupS, opts.maxRate, opts.threads), `warmup-durability-${durability}`);
      // Checkouts still finishing would write into the next scenario's fresh batch_init.
      const reader = await openReader(live !== undefined ? { cluster: live } : { url: target.gatewayUrl });
      try {
        await settle(target, reader);
      } finally {
        await reader.close();
      }
    }
    for (const [i, name] of scenarios.entries()) {
      const profiling = opts.cpuProf && live !== undefined ? { dir: profileDir, seq: i } : undefined;
      onResult(await runScenario(name, target, opts, api, profiling));
    }
  } finally {
    await api.close();
    if (live !== undefined) {
      log('stopping the cluster');
      await live.stop();
      live = undefined;
    }
  }
}

/** An unmeasured wrk window of `opts.warmupS`, so JIT warm-up is not measured. */
async function warmWith(opts: BenchOptions, url: string, w: Pick<Prepared, 'script' | 'args'>, dir: string): Promise<void> {
  const wrk = await runWrk({
    script: w.script,
    url,
    args: w.args,
    durationS: opts.warmupS,
    connections: opts.connections,
    threads: opts.threads,
    cpus: opts.wrkCpus,
    workDir: path.join(opts.outDir, dir),
  });
  log(`  ${(wrk.result.requests / (wrk.result.durationUs / 1e6)).toFixed(0)} req/s while warming up`);
}

/**
 * The ceiling (issue 12): the Redis groups, Sentinels and nginx of the same layout, no
 * services, and the skeleton's processes on the ports the gateway sends to.
 */
async function runCeiling(opts: BenchOptions, durability: Durability): Promise<ScenarioResult> {
  log(`starting the ceiling skeleton on a ${opts.layout} cluster without services, durability ${durability}`);
  live = await startCluster({ layout: opts.layout, replicas: opts.replicas, services: false });
  const cluster = live;
  const api = new ShopClient(cluster.gatewayUrl, 1);
  try {
    await cluster.waitHealthy(60_000);
    liveSkeleton = await startSkeleton(cluster, durability === 'off' ? { acks: 0 } : {});
    const skeleton = liveSkeleton;
    if (opts.clusterCpus !== undefined) pinCluster([...cluster.processes, ...skeleton.processes].map((p) => p.pid), opts.clusterCpus);
    const target = ceilingTarget(cluster, skeleton, durability);
    if (opts.warmupS > 0) {
      log(`warming up the skeleton for ${opts.warmupS}s (not measured)`);
      await warmWith(opts, target.gatewayUrl, ceilingPrepared(0, opts.warmupS, opts.maxRate, opts.threads), `ceiling-warmup-durability-${durability}`);
    }
    return await runScenario('ceiling', target, opts, api, undefined);
  } finally {
    await api.close();
    log('stopping the skeleton and its cluster');
    await liveSkeleton?.stop();
    liveSkeleton = undefined;
    await cluster.stop();
    live = undefined;
  }
}
