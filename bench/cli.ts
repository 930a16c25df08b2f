/** Command line of `npm run bench`. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Layout } from '@shop/launcher/topology.js';

/**
 * Seconds of unmeasured load before the first scenario. With 8-10 s the first scenario of a
 * run paid ~20% more CPU per request than the same scenario run second (a,b and b,a, same
 * sitting: 773-841 against 458-533 µs per request); after 30 s, (a) first and (b) second were
 * within 2-3% of each other (2026-12-02, docs/measurements.md).
 */
export const DEFAULT_WARMUP_S = 30;

export const SCENARIOS = ['stress', 'fresh', 'contention', 'ceiling', 'hot'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** The issues name the scenarios (a), (b), (c), (d), (e); both spellings are accepted. */
const ALIASES: Record<string, ScenarioName> = { a: 'stress', b: 'fresh', c: 'contention', d: 'ceiling', e: 'hot' };
/** Run when --scenario is not given: (e) hot is asked for by name (issue 14), the default run keeps its length. */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['stress', 'fresh', 'contention', 'ceiling'];
/** Scenarios that run our system; `ceiling` runs a skeleton of its topology instead (ceiling/). */
export const isOurs = (s: ScenarioName): boolean => s !== 'ceiling';

/** 'unknown' when targeting a running system: its replica acknowledgement is not ours to set. */
export type Durability = 'on' | 'off' | 'unknown';

export interface BenchOptions {
  url: string | undefined;
  pids: number[];
  scenarios: ScenarioName[];
  durationS: number;
  /** Seconds of load on a fresh cluster before the first scenario, so JIT warm-up is not measured. */
  warmupS: number;
  connections: number;
  threads: number;
  layout: Layout;
  replicas: number;
  /** Redis groups per service (docs/sharding.md). */
  shards: number;
  durability: Durability[];
  outDir: string;
  /** Upper guess of the committed rate, used to size the fresh-order range of (b). */
  maxRate: number;
  /** taskset CPU lists; undefined = no pinning. */
  wrkCpus: string | undefined;
  clusterCpus: string | undefined;
  /** Skip reading 100k+ entities back when targeting a remote system through its API. */
  verify: boolean;
  /** Profile every service process over each wrk window (V8 profiler, see profile.ts) and summarise. */
  cpuProf: boolean;
  /** NODE_OPTIONS for every service process (runtime flags to compare, e.g. GC sizes). */
  nodeOptions: string | undefined;
}

export const USAGE = `usage: npm run bench -- [options]

Starts its own cluster on free loopback ports (or measures a running one with --url), and for
each scenario loads data with batch_init, runs wrk against the gateway, checks the final
state and writes result.json, report.md and SVG plots. Exits 1 when a check failed.
Scenarios: bench/README.md; report terms: docs/glossary.md.

  --url URL              target a running system (no cluster started)
  --pids P,P,...         with --url: pids whose CPU to account (with descendants)
  --scenario LIST        stress|a, fresh|b, contention|c, ceiling|d, hot|e (default: a,b,c,d;
                         with --url: a,b,c). ceiling runs the bare skeleton of the topology
                         on a cluster of its own; with fresh, the report gives ours /
                         ceiling. hot: every order holds one and the same item
  --duration SECONDS     per scenario (default 30)
  --warmup SECONDS       load on a fresh cluster before measuring, 0 for none (default 30)
  --connections N        wrk connections (default 64)
  --threads N            wrk threads (default 2)
  --layout ha|single     cluster layout (default ha)
  --replicas N           service replicas per service (default 2)
  --shards N             Redis groups (shards) per service, layout ha (default 1)
  --durability on|off|both  replica acknowledgement (default on)
  --max-rate N           expected committed/s ceiling, sizes (b)'s order range (default 8000)
  --wrk-cpus LIST        taskset CPU list for wrk (default: unpinned)
  --cluster-cpus LIST    taskset CPU list for every cluster process (with --url: the --pids)
  --no-verify            skip the final-state checks
  --cpu-prof             profile every service process during each wrk window (V8 profiler,
                         started and stopped by SIGUSR2) and add where their CPU goes to the
                         report; slows the services
  --node-options=FLAGS   NODE_OPTIONS for every service process, e.g. --node-options=--trace-gc
                         or --node-options="--max-semi-space-size=32" (to compare runtime flags)
  --out DIR              output directory (default bench/results/<timestamp>)
  --help                 this text`;

/** The options parseArgs accepts: the usage test checks that USAGE names every one. */
export const OPTIONS = {
  url: { type: 'string' },
  pids: { type: 'string' },
  scenario: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  threads: { type: 'string' },
  layout: { type: 'string' },
  replicas: { type: 'string' },
  shards: { type: 'string' },
  durability: { type: 'string' },
  'max-rate': { type: 'string' },
  'wrk-cpus': { type: 'string' },
  'cluster-cpus': { type: 'string' },
  'no-verify': { type: 'boolean' },
  'cpu-prof': { type: 'boolean' },
  'node-options': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function positiveInt(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
}

function cpuList(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]+([-,][0-9]+)*$/.test(raw)) throw new Error(`--${name} must be a CPU list like 0 or 0-1 or 0,1, got ${raw}`);
  return raw;
}

export function parseCli(argv: string[], now = new Date()): BenchOptions | 'help' {
  const { values } = parseArgs({ args: argv, strict: true, options: OPTIONS });
  if (values.help === true) return 'help';

  const url = values.url?.replace(/\/+$/, '');
  const scenarios = (values.scenario ?? DEFAULT_SCENARIOS.filter((s) => url === undefined || isOurs(s)).join(','))
    .split(',')
    .filter((s) => s !== '')
    .map((s): ScenarioName => {
      const name = ALIASES[s] ?? SCENARIOS.find((x) => x === s);
      if (name === undefined) throw new Error(`unknown scenario ${s}; have ${SCENARIOS.join(', ')} (or a, b, c, d, e)`);
      return name;
    });
  if (scenarios.length === 0) throw new Error('--scenario names no scenario');

  const layout = values.layout ?? 'ha';
  if (layout !== 'ha' && layout !== 'single') throw new Error(`--layout must be ha or single, got ${layout}`);
  const durabilityArg = values.durability ?? 'on';
  const durability: Durability[] =
    durabilityArg === 'both' ? ['on', 'off'] : durabilityArg === 'on' || durabilityArg === 'off' ? [durabilityArg] : [];
  if (durability.length === 0) throw new Error(`--durability must be on, off or both, got ${durabilityArg}`);

  if (url !== undefined) {
    // The skeleton is started by the bench beside the cluster it starts: a running system has none.
    if (!scenarios.every(isOurs)) throw new Error('--scenario ceiling needs a cluster started by the bench (no --url)');
    const host = new URL(url).hostname;
    // Load goes to this machine only (see FIELD-NOTES: never address anything off loopback).
    if (!/^127\.|^localhost$|^\[::1\]$/.test(host)) throw new Error(`--url must be a loopback address, got ${host}`);
    if (values.durability !== undefined) throw new Error('--durability needs a cluster started by the bench (no --url)');
    if (values['cpu-prof'] === true) throw new Error('--cpu-prof needs a cluster started by the bench (no --url)');
    if (values['node-options'] !== undefined) throw new Error('--node-options needs a cluster started by the bench (no --url)');
    if (values.shards !== undefined) throw new Error('--shards needs a cluster started by the bench (no --url)');
    if (values['cluster-cpus'] !== undefined && values.pids === undefined) {
      throw new Error('--cluster-cpus with --url pins the --pids: give them');
    }
  }
  const pids = (values.pids ?? '')
    .split(',')
    .filter((p) => p !== '')
    .map((p) => positiveInt('pids', p, 0));
  if (pids.length > 0 && url === undefined) throw new Error('--pids only makes sense with --url');

  const stamp = now.toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  return {
    url,
    pids,
    scenarios: [...new Set(scenarios)],
    durationS: positiveInt('duration', values.duration, 30),
    warmupS: values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, DEFAULT_WARMUP_S),
    connections: positiveInt('connections', values.connections, 64),
    threads: positiveInt('threads', values.threads, 2),
    layout,
    replicas: positiveInt('replicas', values.replicas, 2),
    shards: positiveInt('shards', values.shards, 1),
    durability: url === undefined ? durability : ['unknown'],
    outDir: path.resolve(values.out ?? path.join('bench', 'results', stamp)),
    maxRate: positiveInt('max-rate', values['max-rate'], 8000),
    wrkCpus: cpuList('wrk-cpus', values['wrk-cpus']),
    clusterCpus: cpuList('cluster-cpus', values['cluster-cpus']),
    verify: values['no-verify'] !== true,
    cpuProf: values['cpu-prof'] === true,
    nodeOptions: values['node-options'],
  };
}
