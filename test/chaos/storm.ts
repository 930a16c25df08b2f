/**
 * The storm: faults on a fixed cadence that never wait for the last one to heal. Any
 * process of the topology may be hit (service replicas, Redis primaries and replicas,
 * Sentinels, the gateway), by SIGKILL or by SIGSTOP/SIGCONT of random length, and a fault
 * often lands in the group the previous one hit, so that two faults of one group overlap.
 * This is what an operator's bad day looks like; the one-at-a-time injector (faults.ts)
 * never produces it.
 */
import fs from 'node:fs';
import type { Cluster, ManagedProcess } from '@shop/launcher/cluster.js';
import { faultGroup, killAndAwaitRestart, pauseLength, type Fault, type FaultKind, type TargetClass } from './faults.js';
import type { Clock } from './history.js';
import { weighted, type Prng } from './prng.js';

export interface StormOptions {
  classes: TargetClass[];
  /** Milliseconds between two faults, whatever state the cluster is in. */
  everyMs: number;
  /** No fault starts after this time on the run's clock. */
  untilMs: number;
  stopping: () => boolean;
  log: (line: string) => void;
}

/** How often a fault hits the group (service and its Redis) that the previous one hit. */
const SAME_GROUP_CHANCE = 0.35;

const WEIGHTS: Record<TargetClass, readonly (readonly [number, FaultKind])[]> = {
  service: [
    [2, 'service-kill'],
    [2, 'service-pause'],
  ],
  db: [
    [2, 'db-kill'],
    [2, 'db-pause'],
  ],
  sentinel: [
    [1, 'sentinel-kill'],
    [1, 'sentinel-pause'],
  ],
  gateway: [
    [0.5, 'gateway-kill'],
    [0.5, 'gateway-pause'],
  ],
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pids nginx's master forked (its workers): stopping the master alone stops no traffic. */
function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export class StormInjector {
  readonly faults: Fault[] = [];
  /** Processes we stopped and have not yet continued: continued whatever happens. */
  private readonly stopped = new Map<string, number[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private lastGroup: string | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly clock: Clock,
    private readonly rng: Prng,
  ) {}

  async run(o: StormOptions): Promise<void> {
    const kinds = o.classes.flatMap((c) => WEIGHTS[c]);
    if (kinds.length === 0) return;
    const begin = this.clock.now();
    for (let n = 1; ; n++) {
      // A fixed cadence from the storm's start: a slow fault never delays the next one.
      const wakeAt = begin + n * o.everyMs;
      while (this.clock.now() < wakeAt) {
        if (o.stopping() || this.clock.now() >= o.untilMs) return this.settle();
        await sleep(Math.min(200, wakeAt - this.clock.now()));
      }
      if (o.stopping() || this.clock.now() >= o.untilMs) return this.settle();
      const kind = weighted(this.rng, kinds);
      const proc = await this.target(kind);
      if (proc === undefined) continue;
      const task = this.inject(kind, proc, o.log).finally(() => this.inFlight.delete(task));
      this.inFlight.add(task);
    }
  }

  /** Waits for every fault under way to end: pauses continued, killed processes restarted. */
  private async settle(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async inject(kind: FaultKind, proc: ManagedProcess, log: (line: string) => void): Promise<void> {
    const role = proc.kind === 'redis' && proc.group !== undefined ? await this.roleOf(proc.group, proc.name) : undefined;
    const fault: Fault = {
      kind,
      target: proc.name,
      at: this.clock.now(),
      ...(faultGroup(proc) !== undefined ? { group: faultGroup(proc) } : {}),
      ...(role !== undefined ? { role } : {}),
    };
    this.faults.push(fault);
    const pause = kind.endsWith('-pause');
    if (pause) fault.pauseMs = pauseLength(kind, this.rng);
    const what = `${proc.name}${role !== undefined ? ` (${role})` : ''}`;
    log(`storm ${kind} ${what}${pause ? ` for ${fault.pauseMs} ms` : ''}`);
    if (pause) {
      const pid = proc.pid;
      if (pid === undefined) return;
      // nginx serves from its workers: stop them with the master, or nothing pauses.
      const pids = proc.kind === 'nginx' ? [pid, ...childPids(pid)] : [pid];
      for (const p of pids) signalPid(p, 'SIGSTOP');
      this.stopped.set(proc.name, pids);
      await sleep(fault.pauseMs ?? 0);
      for (const p of pids) signalPid(p, 'SIGCONT');
      this.stopped.delete(proc.name);
    } else {
      await killAndAwaitRestart(proc);
    }
    fault.endedAt = this.clock.now();
  }

  /** A live process of the kind's class; often in the group the last fault hit. */
  private async target(kind: FaultKind): Promise<ManagedProcess | undefined> {
    const cls = kind.slice(0, kind.indexOf('-'));
    const kindOf = { service: 'service', db: 'redis', sentinel: 'sentinel', gateway: 'nginx' }[cls];
    // A process we hold stopped may still be killed (a kill during a pause is a real case);
    // one that is dead and not yet restarted cannot be hit again.
    let pool = this.cluster.processes.filter((p) => p.kind === kindOf && p.pid !== undefined);
    if (kind.endsWith('-pause')) pool = pool.filter((p) => !this.stopped.has(p.name));
    const sameGroup = pool.filter((p) => p.service !== undefined && p.service === this.lastGroup);
    if (sameGroup.length > 0 && this.rng.chance(SAME_GROUP_CHANCE)) pool = sameGroup;
    if (pool.length === 0) return undefined;
    const proc = this.rng.pick(pool);
    if (proc.service !== undefined) this.lastGroup = proc.service;
    return proc;
  }

  private async roleOf(group: string, name: string): Promise<'primary' | 'replica'> {
    try {
      const primary = await this.cluster.currentPrimary(group);
      return primary.name === name ? 'primary' : 'replica';
    } catch {
      return 'replica';
    }
  }

  /** Continues everything we stopped; safe to call at any time, any number of times. */
  release(): void {
    for (const pids of this.stopped.values()) for (const p of pids) signalPid(p, 'SIGCONT');
    this.stopped.clear();
  }
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone: a kill landed during the pause.
  }
}
