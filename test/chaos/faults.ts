/**
 * The fault injector: one fault at a time (the guarantee under test is "any single fault"),
 * in a seeded rhythm, each logged with its times and target. A fault lasts until the
 * cluster is whole again, so the next one never lands on a half-recovered system.
 */
import type { Cluster, ManagedProcess } from '@shop/launcher/cluster.js';
import type { Clock } from './history.js';
import { weighted, type Prng } from './prng.js';

/** What the one-at-a-time injector hits: service replicas, Redis primaries. */
export type FaultClass = 'service' | 'db';
/** What the storm (storm.ts) hits: also Redis replicas (db), Sentinels and the gateway. */
export type TargetClass = FaultClass | 'sentinel' | 'gateway';
export type FaultKind = `${TargetClass}-${'kill' | 'pause'}`;

export interface Fault {
  kind: FaultKind;
  target: string;
  /** When the signal was sent (run clock, ms). */
  at: number;
  /** For a pause: how long the process stayed stopped. */
  pauseMs?: number;
  /** When the fault itself ended: SIGCONT sent, or the killed process running again. */
  endedAt?: number;
  /** When the whole cluster was healthy again (one-at-a-time faults only). */
  healedAt?: number;
  /** A service replica's service, or a Redis server's group (Sentinel master name: `stock`, `stock-s1`). */
  group?: string;
  /** A Redis server's role when it was hit. */
  role?: 'primary' | 'replica';
  note?: string;
}

/**
 * How long a pause lasts. Service pauses straddle nginx's read timeouts (6 s for a checkout,
 * 10 s for other calls); database pauses
 * mostly outlast the Sentinel failover (~3-4 s) so the paused primary comes back as a zombie.
 */
export function pauseLength(kind: FaultKind, rng: Prng): number {
  switch (kind) {
    case 'db-pause':
      return rng.int(5000, 9000);
    case 'service-pause':
      return rng.chance(0.3) ? rng.int(10_500, 12_500) : rng.int(1000, 10_000);
    case 'sentinel-pause':
      return rng.int(1000, 10_000);
    case 'gateway-pause':
      return rng.int(500, 5000);
    default:
      return 0;
  }
}

/** Every Redis group of the cluster, shard 0 of every service first (so a one-shard run draws as before). */
export const groupsOf = (cluster: Cluster): string[] => Object.keys(cluster.groups);

/** The group a fault on this process belongs to: a Redis server's own group, else its service. */
export const faultGroup = (proc: ManagedProcess): string | undefined => proc.group ?? proc.service;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface InjectorOptions {
  /** Only service and db apply; the rest need the storm. */
  classes: readonly TargetClass[];
  /** Mean seconds between the end of one fault and the next. */
  rateS: number;
  /** No fault starts after this time on the run's clock. */
  untilMs: number;
  stopping: () => boolean;
  log: (line: string) => void;
}

export class FaultInjector {
  readonly faults: Fault[] = [];
  /** Processes we stopped and have not yet continued: continued whatever happens. */
  private readonly stopped = new Set<ManagedProcess>();

  constructor(
    private readonly cluster: Cluster,
    private readonly clock: Clock,
    private readonly rng: Prng,
  ) {}

  async run(o: InjectorOptions): Promise<void> {
    const kinds: (readonly [number, FaultKind])[] = [];
    if (o.classes.includes('service')) kinds.push([1, 'service-kill'], [1, 'service-pause']);
    if (o.classes.includes('db')) kinds.push([1, 'db-kill'], [1, 'db-pause']);
    if (kinds.length === 0) return;
    for (;;) {
      const gap = this.rng.exp(o.rateS * 1000);
      const wakeAt = this.clock.now() + gap;
      while (this.clock.now() < wakeAt) {
        if (o.stopping() || this.clock.now() >= o.untilMs) return;
        await sleep(Math.min(200, wakeAt - this.clock.now()));
      }
      if (o.stopping() || this.clock.now() >= o.untilMs) return;
      const fault = await this.inject(weighted(this.rng, kinds), o.log);
      this.faults.push(fault);
    }
  }

  private async inject(kind: FaultKind, log: (line: string) => void): Promise<Fault> {
    const proc = await this.target(kind);
    const fault: Fault = {
      kind,
      target: proc.name,
      at: this.clock.now(),
      ...(faultGroup(proc) !== undefined ? { group: faultGroup(proc) } : {}),
      ...(kind.startsWith('db-') ? { role: 'primary' as const } : {}),
    };
    const pause = kind === 'service-pause' || kind === 'db-pause';
    if (pause) fault.pauseMs = pauseLength(kind, this.rng);
    log(`fault ${kind} ${proc.name} at ${(fault.at / 1000).toFixed(1)}s${pause ? ` for ${fault.pauseMs} ms` : ''}`);
    if (pause) {
      proc.signal('SIGSTOP');
      this.stopped.add(proc);
      await sleep(fault.pauseMs ?? 0);
      proc.signal('SIGCONT');
      this.stopped.delete(proc);
      fault.endedAt = this.clock.now();
    } else {
      await killAndAwaitRestart(proc);
      fault.endedAt = this.clock.now();
    }
    try {
      await this.cluster.waitHealthy(90_000);
      fault.healedAt = this.clock.now();
    } catch (err) {
      fault.note = `cluster not healthy after the fault: ${(err as Error).message}`;
      log(fault.note);
    }
    return fault;
  }

  private async target(kind: FaultKind): Promise<ManagedProcess> {
    if (kind === 'service-kill' || kind === 'service-pause') {
      return this.rng.pick(this.cluster.processes.filter((p) => p.kind === 'service'));
    }
    const group = this.rng.pick(groupsOf(this.cluster));
    return this.cluster.process((await this.cluster.currentPrimary(group)).name);
  }

  /** Continues everything we stopped; safe to call at any time, any number of times. */
  release(): void {
    for (const p of this.stopped) p.signal('SIGCONT');
    this.stopped.clear();
  }
}

/** SIGCONT to every process of the cluster: nothing may stay stopped after a run. */
export function continueAll(cluster: Cluster): void {
  for (const p of cluster.processes) {
    if (p.pid !== undefined) p.signal('SIGCONT');
  }
}

/** SIGKILL, then wait (at most a minute) until the launcher has the process running again. */
export async function killAndAwaitRestart(proc: ManagedProcess): Promise<void> {
  const starts = proc.starts;
  proc.signal('SIGKILL');
  const deadline = Date.now() + 60_000;
  while (!(proc.starts > starts && proc.pid !== undefined) && Date.now() < deadline) await sleep(50);
}
