/**
 * Whether a path existed: the rule that decides when a checkout may be answered 5xx.
 *
 * A checkout has a path while the gateway is up, at least one replica of each service is
 * up, and each Redis group has its primary up or, failing that, a node that can be promoted
 * (up long enough to have caught up and joined the promotable set) with a Sentinel majority
 * up and out of TILT mode to promote it. A group also has no path while a member of its
 * promotable set is paused, its primary included (the primary stays a member, so a failover
 * carries it into the new primary's set): a write counts only once every member has it, and
 * nothing can make a server that does not answer unpromotable, so the set cannot drop it
 * (replication/guard.ts) and writes wait. A failed checkout attempt (5xx, reset, no answer) is excused only when
 * a moment without a path falls within it, or shortly before it (the path needs a moment
 * to come back: a failover, a reconnect); any other failure is a violation, reported with
 * the faults around it. Pure, so that a fabricated run can show what it excuses.
 */
import type { Violation } from './checker.js';
import type { Fault } from './faults.js';
import type { Attempt, CheckoutRecord } from './history.js';

/** A Redis server up this long has caught up and may be promoted. */
export const PROMOTABLE_AFTER_MS = 5_000;
/** A killed service replica restarted this long ago is serving. */
export const SERVICE_READY_MS = 3_000;
/**
 * A Sentinel whose clock jumped by more than 2 s (paused, or starved of CPU) enters TILT mode
 * for 30 s (Redis' own constants): it neither reports a primary down nor starts a failover.
 */
export const TILT_AFTER_JUMP_MS = 2_000;
export const TILT_MS = 30_000;
/** After a path comes back, calls take this long to find it (failover, reconnects). */
export const PATH_GRACE_MS = 5_000;
/** The resolution of the path timeline. */
const STEP_MS = 100;

export interface ProcessInfo {
  name: string;
  kind: 'redis' | 'sentinel' | 'service' | 'nginx' | 'proxy';
  /** Group of a service replica or Redis server. */
  group?: string;
}

/** The primary of a group from `t` on, as the Sentinels named it when sampled. */
export interface PrimarySample {
  t: number;
  group: string;
  name: string;
}

export interface NoPath {
  from: number;
  to: number;
  reason: string;
}

export interface FailedAttempt {
  orderId: string;
  attempt: Attempt;
  excused: boolean;
  /** Why no path existed, when excused. */
  reason?: string;
}

export interface AvailabilityReport {
  noPath: NoPath[];
  failedAttempts: { total: number; excused: number; unexcused: number };
  /** The longest checkout attempt, and how many took longer than the gateway's read timeout. */
  longestAttemptMs: number;
  attemptsOver10s: number;
  /** Per kind of fault: how long checkouts in flight at it, or begun just after, waited from it. */
  pauses: Record<string, { faults: number; p50: number; p99: number; max: number }>;
}

/** When each process was down: from the fault until it ended, plus what it needs to serve again. */
function downIntervals(faults: Fault[], runEnd: number): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const f of faults) {
    const ended = f.endedAt ?? runEnd;
    const back = f.kind === 'service-kill' ? ended + SERVICE_READY_MS : ended;
    out.set(f.target, [...(out.get(f.target) ?? []), [f.at, back]]);
  }
  return out;
}

export class PathModel {
  private readonly down: Map<string, [number, number][]>;
  /** Pauses of Redis servers: a paused member of the promotable set holds its group's writes. */
  private readonly paused = new Map<string, [number, number][]>();
  /** When each Sentinel was in TILT mode after a pause. */
  private readonly tilted = new Map<string, [number, number][]>();
  /** Samples per group, in time order. */
  private readonly primaries = new Map<string, PrimarySample[]>();

  constructor(
    private readonly processes: ProcessInfo[],
    faults: Fault[],
    primaries: PrimarySample[],
    private readonly runEnd: number,
  ) {
    this.down = downIntervals(faults, runEnd);
    for (const f of faults) {
      if (f.kind === 'sentinel-pause' && (f.endedAt ?? runEnd) - f.at > TILT_AFTER_JUMP_MS) {
        this.tilted.set(f.target, [...(this.tilted.get(f.target) ?? []), [f.endedAt ?? runEnd, (f.endedAt ?? runEnd) + TILT_MS]]);
      }
      if (f.kind === 'db-pause') this.paused.set(f.target, [...(this.paused.get(f.target) ?? []), [f.at, f.endedAt ?? runEnd]]);
    }
    for (const s of [...primaries].sort((x, y) => x.t - y.t)) this.primaries.set(s.group, [...(this.primaries.get(s.group) ?? []), s]);
  }

  private isDown(name: string, t: number): boolean {
    return (this.down.get(name) ?? []).some(([a, b]) => t >= a && t < b);
  }

  /** Up now, and neither killed nor paused in the last PROMOTABLE_AFTER_MS. */
  private promotable(name: string, t: number): boolean {
    if (this.isDown(name, t)) return false;
    const since = t - PROMOTABLE_AFTER_MS;
    return !(this.down.get(name) ?? []).some(([, b]) => b > since && b <= t);
  }

  /** Paused at `t`, having been up long enough before the pause to be in the promotable set. */
  private pausedMember(name: string, t: number): boolean {
    const pause = (this.paused.get(name) ?? []).find(([a, b]) => t >= a && t < b);
    return pause !== undefined && this.promotable(name, pause[0] - 1);
  }

  /** The last sample at or before `t` (the first one before any). */
  private primaryAt(group: string, t: number): string | undefined {
    const samples = this.primaries.get(group) ?? [];
    let lo = 0;
    let hi = samples.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (samples[mid]!.t <= t) lo = mid;
      else hi = mid - 1;
    }
    return samples[lo]?.name;
  }

  /** Why no path exists at `t`, or undefined when one does. */
  blocked(t: number): string | undefined {
    const of = (kind: ProcessInfo['kind']) => this.processes.filter((p) => p.kind === kind);
    if (of('nginx').every((p) => this.isDown(p.name, t))) return 'gateway down';
    const services = new Map<string, ProcessInfo[]>();
    for (const p of of('service')) services.set(p.group ?? '', [...(services.get(p.group ?? '') ?? []), p]);
    for (const [group, replicas] of services) {
      if (replicas.every((p) => this.isDown(p.name, t))) return `every ${group} replica down`;
    }
    const sentinels = of('sentinel');
    const able = (name: string): boolean => !this.isDown(name, t) && !(this.tilted.get(name) ?? []).some(([a, b]) => t >= a && t < b);
    const quorum = sentinels.filter((p) => able(p.name)).length > sentinels.length / 2;
    const groups = new Map<string, ProcessInfo[]>();
    for (const p of of('redis')) groups.set(p.group ?? '', [...(groups.get(p.group ?? '') ?? []), p]);
    for (const [group, nodes] of groups) {
      const primary = this.primaryAt(group, t);
      const holding = nodes.find((n) => this.pausedMember(n.name, t));
      if (holding !== undefined) return `${group} writes wait for ${holding.name}, paused while in the promotable set`;
      if (primary !== undefined && !this.isDown(primary, t)) continue;
      const candidates = nodes.filter((n) => n.name !== primary && this.promotable(n.name, t));
      if (candidates.length === 0) return `${group} primary ${primary ?? '?'} down and no promotable replica`;
      if (!quorum) return `${group} primary ${primary ?? '?'} down and no Sentinel majority (down or in TILT)`;
    }
    return undefined;
  }

  /** The moments without a path, as intervals. */
  noPath(): NoPath[] {
    const out: NoPath[] = [];
    let open: NoPath | undefined;
    for (let t = 0; t <= this.runEnd; t += STEP_MS) {
      const reason = this.blocked(t);
      if (reason !== undefined && open?.reason === reason) {
        open.to = t + STEP_MS;
      } else {
        if (open !== undefined) out.push(open);
        open = reason !== undefined ? { from: t, to: t + STEP_MS, reason } : undefined;
      }
    }
    if (open !== undefined) out.push(open);
    return out;
  }
}

const failed = (a: Attempt): boolean => a.indeterminate !== undefined;

/** The p-quantile of an ascending list (0 for an empty one). */
export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
}

function faultLabel(f: Fault): string {
  return f.role !== undefined ? `${f.kind} (${f.role})` : f.kind;
}

/**
 * Judges every failed checkout attempt against the path timeline; unexcused ones become
 * violations, one per burst (attempts that overlap), naming the faults around it.
 */
export function judgeAvailability(a: {
  seed: number;
  model: PathModel;
  faults: Fault[];
  checkouts: CheckoutRecord[];
}): { report: AvailabilityReport; violations: Violation[] } {
  const noPath = a.model.noPath();
  // One step of slack each side: the timeline is sampled every STEP_MS, the attempts are not.
  const excuse = (at: Attempt): string | undefined =>
    noPath.find((n) => n.from - STEP_MS <= at.end && n.to + PATH_GRACE_MS >= at.start)?.reason;
  const failures: FailedAttempt[] = [];
  for (const c of a.checkouts) {
    for (const at of c.attempts) {
      if (!failed(at)) continue;
      const reason = excuse(at);
      failures.push({ orderId: c.orderId, attempt: at, excused: reason !== undefined, ...(reason !== undefined ? { reason } : {}) });
    }
  }
  const unexcused = failures.filter((f) => !f.excused).sort((x, y) => x.attempt.start - y.attempt.start);
  const violations: Violation[] = [];
  for (let i = 0; i < unexcused.length; ) {
    const first = unexcused[i]!;
    let end = first.attempt.end;
    let j = i;
    while (j < unexcused.length && unexcused[j]!.attempt.start <= end + 1000) end = Math.max(end, unexcused[j++]!.attempt.end);
    const burst = unexcused.slice(i, j);
    const from = first.attempt.start;
    const around = a.faults.filter((f) => f.at <= end && (f.endedAt ?? end) + PATH_GRACE_MS >= from - 10_000);
    const answers = new Map<string, number>();
    for (const b of burst) answers.set(b.attempt.indeterminate ?? '?', (answers.get(b.attempt.indeterminate ?? '?') ?? 0) + 1);
    violations.push({
      rule: 'availability',
      message:
        `${burst.length} checkout attempt(s) failed between ${from} and ${end} ms while a path existed ` +
        `(${[...answers].map(([k, n]) => `${n} x ${k}`).join(', ')}); faults around: ` +
        (around.map((f) => `${faultLabel(f)} ${f.target} at ${f.at}${f.endedAt !== undefined ? `-${f.endedAt}` : ''}`).join('; ') || 'none'),
      orderId: first.orderId,
      seed: a.seed,
    });
    i = j;
  }
  const attempts = a.checkouts.flatMap((c) => c.attempts);
  const durations = attempts.map((t) => t.end - t.start);
  const pauses: AvailabilityReport['pauses'] = {};
  const byKind = new Map<string, number[]>();
  for (const f of a.faults) {
    let wait = 0;
    for (const t of attempts) if (t.start <= f.at + 1000 && t.end >= f.at) wait = Math.max(wait, t.end - Math.max(t.start, f.at));
    byKind.set(faultLabel(f), [...(byKind.get(faultLabel(f)) ?? []), wait]);
  }
  for (const [kind, waits] of byKind) {
    const sorted = waits.sort((x, y) => x - y);
    pauses[kind] = { faults: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? 0 };
  }
  return {
    report: {
      noPath,
      failedAttempts: { total: failures.length, excused: failures.length - unexcused.length, unexcused: unexcused.length },
      longestAttemptMs: durations.reduce((m, x) => Math.max(m, x), 0),
      attemptsOver10s: durations.filter((d) => d > 10_000).length,
      pauses,
    },
    violations,
  };
}
