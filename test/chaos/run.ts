/**
 * One chaos run, start to verdict: cluster up, population set up, load and faults together
 * for the duration, heal, quiescence, final state, checks, report. Used by the CLI and the
 * test alike. The cluster is stopped whatever happens.
 */
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { ShopClient } from '@shop/launcher/api.js';
import { check, type Violation } from './checker.js';
import { FaultInjector, continueAll, faultGroup, groupsOf, type Fault } from './faults.js';
import { Clock, History } from './history.js';
import { PathModel, judgeAvailability, type PrimarySample, type ProcessInfo } from './paths.js';
import { Prng } from './prng.js';
import { buildReport, formatViolation, summary, writeReport, type ChaosOptions, type ChaosReport } from './report.js';
import { checkReplication, readApi, readRedis, waitQuiescent, type GroupState } from './state.js';
import { StormInjector } from './storm.js';
import { DEFAULT_POPULATION, Workload, setUp, type Population } from './workload.js';

export type { ChaosOptions, ChaosReport } from './report.js';

export const DEFAULT_OPTIONS: Omit<ChaosOptions, 'seed'> = {
  durationS: 60,
  faults: ['service'],
  rateS: 5,
  layout: 'ha',
  replicas: 2,
  concurrency: 32,
  reportDir: 'bench/results/chaos',
};

export interface RunHooks {
  /** Abort the run early (SIGINT): the cluster is still stopped and nothing left paused. */
  signal?: AbortSignal;
  log?: (line: string) => void;
  population?: Population;
  /** Write the JSON and Markdown report files (default true). */
  write?: boolean;
}

const HEAL_TIMEOUT_MS = 120_000;
const QUIESCENCE_TIMEOUT_MS = 60_000;
const PRIMARY_SAMPLE_MS = 500;

/**
 * Records, every half second, which server the Sentinels name as each group's primary: the
 * path model needs to know whose death leaves a group without a primary.
 */
function samplePrimaries(cluster: Cluster, clock: Clock, done: () => boolean): { samples: PrimarySample[]; stopped: Promise<void> } {
  const samples: PrimarySample[] = [];
  const last = new Map<string, string>();
  const stopped = (async () => {
    if (cluster.layout !== 'ha') return;
    while (!done()) {
      for (const group of groupsOf(cluster)) {
        const name = await cluster.currentPrimary(group).then((p) => p.name, () => undefined);
        if (name !== undefined && last.get(group) !== name) {
          samples.push({ t: clock.now(), group, name });
          last.set(group, name);
        }
      }
      await new Promise((r) => setTimeout(r, PRIMARY_SAMPLE_MS));
    }
  })();
  return { samples, stopped };
}

export async function runChaos(options: ChaosOptions, hooks: RunHooks = {}): Promise<ChaosReport> {
  const clock = new Clock();
  const log = (line: string): void => (hooks.log ?? console.log)(`[chaos +${(clock.now() / 1000).toFixed(1)}s] ${line}`);
  const stopping = (): boolean => hooks.signal?.aborted === true;
  const rng = new Prng(options.seed);
  const population = hooks.population ?? DEFAULT_POPULATION;
  log(`seed ${options.seed}; starting a ${options.layout} cluster with ${options.replicas} replicas per service`);

  const cluster: Cluster = await startCluster({ layout: options.layout, replicas: options.replicas, ...(options.shards !== undefined ? { shards: options.shards } : {}) });
  const api = new ShopClient(cluster.gatewayUrl, options.concurrency * 2 + 16);
  const calm = new FaultInjector(cluster, clock, rng.fork(2));
  const storm = new StormInjector(cluster, clock, rng.fork(2));
  const injected = (): Fault[] => (options.storm !== undefined ? storm.faults : calm.faults);
  const release = (): void => {
    calm.release();
    storm.release();
  };
  const extra: Violation[] = [];
  let loadDone = false;
  const sampler = samplePrimaries(cluster, clock, () => loadDone || stopping());
  try {
    const history = new History();
    const { initial, fixtures } = await setUp(api, rng.fork(1), population, history, options.concurrency);
    log(`set up ${initial.users.size} users and ${initial.items.size} items; load and faults for ${options.durationS} s`);
    const untilMs = clock.now() + options.durationS * 1000;
    const workload = new Workload(api, history, clock, initial, fixtures);
    try {
      await Promise.all([
        workload.run(rng.fork(3), { concurrency: options.concurrency, untilMs, maxOps: options.durationS * 2000, stopping }),
        options.storm !== undefined
          ? storm.run({ classes: options.faults, everyMs: options.storm.everyS * 1000, untilMs, stopping, log })
          : calm.run({ classes: options.faults, rateS: options.rateS, untilMs, stopping, log }),
      ]);
    } finally {
      release();
      loadDone = true;
      await sampler.stopped;
    }
    if (stopping()) throw new Error('chaos run aborted');
    const loadEnd = clock.now();
    log(`load done: ${history.checkouts.length} checkouts, ${injected().length} faults; healing`);

    continueAll(cluster);
    try {
      await cluster.waitHealthy(HEAL_TIMEOUT_MS);
    } catch (err) {
      extra.push({ rule: 'heal', message: `cluster not healthy ${HEAL_TIMEOUT_MS} ms after the load: ${(err as Error).message}`, seed: options.seed });
    }
    const quiescenceMs = await waitQuiescent(cluster, QUIESCENCE_TIMEOUT_MS);
    log(quiescenceMs !== undefined ? `quiescent after ${quiescenceMs} ms; reading the final state` : 'NOT quiescent; reading the final state');
    const replication: GroupState[] | undefined =
      options.layout === 'ha' && options.faults.includes('db') ? await checkReplication(cluster, 30_000) : undefined;
    const [apiState, redisState] = await Promise.all([readApi(api, history, initial, clock, rng.fork(4), stopping), readRedis(cluster)]);
    // Per group: a Redis server under its shard's master name, a service replica under its service.
    const processes: ProcessInfo[] = cluster.processes.map((p) => ({ name: p.name, kind: p.kind, ...(faultGroup(p) !== undefined ? { group: faultGroup(p) } : {}) }));
    const availability = judgeAvailability({
      seed: options.seed,
      model: new PathModel(processes, injected(), sampler.samples, loadEnd),
      faults: injected(),
      checkouts: history.checkouts,
    });
    const violations = [
      ...extra,
      ...availability.violations,
      ...check({
        seed: options.seed,
        history,
        initial,
        api: apiState,
        redis: redisState,
        quiescent: quiescenceMs !== undefined,
        ...(replication !== undefined ? { replication } : {}),
      }),
    ];
    const report = buildReport({
      options,
      startedAt: clock.startedAt,
      wallS: clock.now() / 1000,
      population: { users: initial.users.size, items: initial.items.size },
      history,
      faults: injected(),
      availability: availability.report,
      violations,
      quiescenceMs,
      replication,
      txByOrder: redisState.txByOrder,
      starts: Object.fromEntries(cluster.processes.map((p) => [p.name, p.starts])),
      primaries: sampler.samples,
    });
    if (hooks.write !== false) report.files = writeReport(report, options.reportDir);
    for (const v of violations.slice(0, 20)) log(`VIOLATION ${formatViolation(v)}`);
    (hooks.log ?? console.log)(summary(report));
    if (report.files !== undefined) log(`report: ${report.files.json}`);
    return report;
  } finally {
    loadDone = true;
    release();
    continueAll(cluster);
    await api.close().catch(() => undefined);
    await cluster.stop();
    log('cluster stopped');
  }
}
