/** The run's report: numbers for the JSON file, and a short summary for people. */
import fs from 'node:fs';
import path from 'node:path';
import type { Violation } from './checker.js';
import type { Fault, TargetClass } from './faults.js';
import type { Attempt, CheckoutRecord, History, IndeterminateKind } from './history.js';
import { percentile, type AvailabilityReport, type PrimarySample } from './paths.js';
import type { GroupState } from './state.js';

export interface ChaosOptions {
  durationS: number;
  seed: number;
  faults: TargetClass[];
  rateS: number;
  /** Faults on a fixed cadence, overlapping (storm.ts); one at a time without it. */
  storm?: { everyS: number };
  layout: 'ha' | 'single';
  replicas: number;
  /** Redis groups per service (ha only above 1); absent: 1. */
  shards?: number;
  concurrency: number;
  reportDir: string;
}

export interface FaultReport extends Fault {
  /** From the fault to the first checkout begun after it that got a definite answer. */
  recoveryMs?: number;
  /** The slowest checkout (all its attempts) in flight while the fault lasted. */
  longestCheckoutMs?: number;
}

export interface ChaosReport {
  seed: number;
  options: ChaosOptions;
  startedAt: string;
  wallS: number;
  population: { users: number; items: number };
  faults: FaultReport[];
  checkouts: {
    total: number;
    byFinal: Record<string, number>;
    byKind: Record<string, number>;
    withIndeterminate: number;
    latencyMs: { p50: number; p99: number; max: number };
  };
  indeterminate: Partial<Record<IndeterminateKind, number>>;
  addItems: Record<string, number>;
  /** addItem is never repeated, so these are lines whose outcome only the final state tells. */
  addItemIndeterminate: Partial<Record<IndeterminateKind, number>>;
  badInputs: { total: number; wrong: number };
  recovery: { slowestMs?: number; slowestFault?: string; longestCheckoutMs?: number };
  /** Per second of the run: attempts begun and how many were indeterminate, to line up with the faults. */
  timeline: { s: number; checkoutAttempts: number; checkoutIndeterminate: number; addItems: number; addItemIndeterminate: number }[];
  quiescenceMs?: number;
  /** Processes that (re)started more often than the faults explain: crashes nobody injected. */
  unplannedRestarts: Record<string, number>;
  /** Primary changes the Sentinels made, and those no fault on the group's primary explains. */
  failovers: { total: number; unexplained: PrimarySample[] };
  /** The first checkouts that saw an indeterminate answer (the contract promises none), with their transactions. */
  indeterminateCheckouts: { orderId: string; txIds: string[]; kind: string; answers: string; firstAt: number }[];
  replication?: GroupState[];
  /** Failed checkout attempts judged against whether a path existed (paths.ts). */
  availability: AvailabilityReport;
  violations: Violation[];
  ok: boolean;
  files?: { json: string; md: string };
}

const finalKey = (c: { final?: { status: number; code?: string } | undefined }): string =>
  c.final === undefined ? 'no definite answer' : `${c.final.status}${c.final.code !== undefined ? ` ${c.final.code}` : ''}`;

function tally<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

function span(c: CheckoutRecord): [number, number] {
  return [c.attempts[0]?.start ?? 0, c.attempts[c.attempts.length - 1]?.end ?? 0];
}

function kinds(calls: { attempts: Attempt[] }[]): Partial<Record<IndeterminateKind, number>> {
  const out: Partial<Record<IndeterminateKind, number>> = {};
  for (const c of calls) for (const t of c.attempts) if (t.indeterminate !== undefined) out[t.indeterminate] = (out[t.indeterminate] ?? 0) + 1;
  return out;
}

function timeline(checkouts: { attempts: Attempt[] }[], adds: { attempts: Attempt[] }[]): ChaosReport['timeline'] {
  const rows = new Map<number, ChaosReport['timeline'][number]>();
  const row = (t: number): ChaosReport['timeline'][number] => {
    const s = Math.floor(t / 1000);
    let r = rows.get(s);
    if (r === undefined) rows.set(s, (r = { s, checkoutAttempts: 0, checkoutIndeterminate: 0, addItems: 0, addItemIndeterminate: 0 }));
    return r;
  };
  for (const c of checkouts) for (const t of c.attempts) {
    const r = row(t.start);
    r.checkoutAttempts++;
    if (t.indeterminate !== undefined) r.checkoutIndeterminate++;
  }
  for (const c of adds) for (const t of c.attempts) {
    const r = row(t.start);
    r.addItems++;
    if (t.indeterminate !== undefined) r.addItemIndeterminate++;
  }
  return [...rows.values()].sort((x, y) => x.s - y.s);
}

export function faultReports(faults: Fault[], checkouts: CheckoutRecord[]): FaultReport[] {
  const attempts = checkouts.flatMap((c) => c.attempts);
  return faults.map((f) => {
    const after = attempts.filter((a) => a.start >= f.at && a.indeterminate === undefined).map((a) => a.end);
    const until = f.healedAt ?? f.endedAt ?? f.at;
    const around = checkouts.map(span).filter(([s, e]) => s <= until && e >= f.at).map(([s, e]) => e - s);
    return {
      ...f,
      // reduce, not Math.min(...xs): a 10-minute run has more values than the call stack holds.
      ...(after.length > 0 ? { recoveryMs: after.reduce((m, x) => Math.min(m, x)) - f.at } : {}),
      ...(around.length > 0 ? { longestCheckoutMs: around.reduce((m, x) => Math.max(m, x)) } : {}),
    };
  });
}

/** A failover this long after its fault ended still counts as the fault's (sampling, election). */
export const FAILOVER_GRACE_MS = 10_000;

/**
 * Every primary change of a group after its first sample, and those no fault on that group's
 * primary explains: a Sentinel can fail over a healthy primary (for instance one it switched
 * to a second before, counted down before its first PING was answered), which costs the group
 * its writes for a failover's length. Not a violation; counted so that it is seen.
 */
export function failovers(samples: readonly PrimarySample[], faults: readonly Fault[]): { total: number; unexplained: PrimarySample[] } {
  const seen = new Set<string>();
  const changes: PrimarySample[] = [];
  for (const s of [...samples].sort((x, y) => x.t - y.t)) {
    if (seen.has(s.group)) changes.push(s);
    seen.add(s.group);
  }
  const explains = (f: Fault, c: PrimarySample): boolean =>
    f.role === 'primary' && f.group === c.group && f.at <= c.t && c.t <= (f.endedAt ?? f.at) + FAILOVER_GRACE_MS;
  return { total: changes.length, unexplained: changes.filter((c) => !faults.some((f) => explains(f, c))) };
}

export function buildReport(a: {
  options: ChaosOptions;
  startedAt: Date;
  wallS: number;
  population: { users: number; items: number };
  history: History;
  faults: Fault[];
  availability: AvailabilityReport;
  violations: Violation[];
  quiescenceMs: number | undefined;
  replication: GroupState[] | undefined;
  /** Starts of each process at the end of the run. */
  starts: Record<string, number>;
  /** Each group's primary as sampled through the run (run.ts). */
  primaries: readonly PrimarySample[];
  txByOrder: Map<string, string[]>;
}): ChaosReport {
  const unplannedRestarts: Record<string, number> = {};
  for (const [name, n] of Object.entries(a.starts)) {
    const killed = a.faults.filter((f) => f.target === name && f.kind.endsWith('-kill')).length;
    if (n - 1 - killed > 0) unplannedRestarts[name] = n - 1 - killed;
  }
  const cs = a.history.checkouts;
  const latencies = cs.map((c) => span(c)[1] - span(c)[0]).sort((x, y) => x - y);
  const indeterminate = kinds(cs);
  const faults = faultReports(a.faults, cs);
  const slowest = faults.reduce<FaultReport | undefined>((m, f) => ((f.recoveryMs ?? -1) > (m?.recoveryMs ?? -1) ? f : m), undefined);
  const longest = Math.max(0, ...faults.map((f) => f.longestCheckoutMs ?? 0));
  return {
    seed: a.options.seed,
    options: a.options,
    startedAt: a.startedAt.toISOString(),
    wallS: a.wallS,
    population: a.population,
    faults,
    checkouts: {
      total: cs.length,
      byFinal: tally(cs, finalKey),
      byKind: tally(cs, (c) => c.kind),
      withIndeterminate: cs.filter((c) => c.attempts.some((t) => t.indeterminate !== undefined)).length,
      latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] ?? 0 },
    },
    indeterminate,
    addItems: tally(a.history.addItems, finalKey),
    addItemIndeterminate: kinds(a.history.addItems),
    badInputs: {
      total: a.history.badInputs.length,
      wrong: a.history.badInputs.filter((b) => b.final?.status !== b.expect.status || b.final.code !== b.expect.code).length,
    },
    recovery: {
      ...(slowest?.recoveryMs !== undefined ? { slowestMs: slowest.recoveryMs, slowestFault: `${slowest.kind} ${slowest.target} at ${slowest.at} ms` } : {}),
      ...(faults.length > 0 ? { longestCheckoutMs: longest } : {}),
    },
    timeline: timeline(cs, a.history.addItems),
    unplannedRestarts,
    failovers: failovers(a.primaries, a.faults),
    indeterminateCheckouts: cs
      .filter((c) => c.attempts.some((t) => t.indeterminate !== undefined))
      .slice(0, 50)
      .map((c) => ({
        orderId: c.orderId,
        txIds: a.txByOrder.get(c.orderId) ?? [],
        kind: c.kind,
        answers: c.attempts.map((t) => t.indeterminate ?? `${t.status} ${t.code ?? ''}`.trim()).join(', '),
        firstAt: c.attempts[0]?.start ?? 0,
      })),
    ...(a.quiescenceMs !== undefined ? { quiescenceMs: a.quiescenceMs } : {}),
    ...(a.replication !== undefined ? { replication: a.replication } : {}),
    availability: a.availability,
    violations: a.violations,
    ok: a.violations.length === 0,
  };
}

export function formatViolation(v: Violation): string {
  const ids = [v.orderId !== undefined ? `order ${v.orderId}` : '', v.txIds !== undefined && v.txIds.length > 0 ? `tx ${v.txIds.join(',')}` : '']
    .filter((s) => s !== '')
    .join(' ');
  return `[${v.rule}] ${v.message}${ids !== '' ? ` — ${ids}` : ''} (seed ${v.seed})`;
}

const fmtCounts = (r: Record<string, number>): string =>
  Object.entries(r)
    .sort(([, x], [, y]) => y - x)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || 'none';

/** Up to five examples in parentheses, or nothing. */
const examples = (xs: string[]): string => (xs.length > 0 ? ` (${xs.slice(0, 5).join(', ')})` : '');

export function summary(r: ChaosReport): string {
  const o = r.options;
  const kinds = fmtCounts(Object.fromEntries(Object.entries(tally(r.faults, (f) => f.kind))));
  const lines = [
    `# Chaos run, seed ${r.seed}: ${r.ok ? 'PASS' : `FAIL (${r.violations.length} violations)`}`,
    '',
    `- options: --duration ${o.durationS} --seed ${o.seed} --faults ${o.faults.join(',')} ${o.storm !== undefined ? `--storm --every ${o.storm.everyS}` : `--rate ${o.rateS}`} --layout ${o.layout} --replicas ${o.replicas}${(o.shards ?? 1) > 1 ? ` --shards ${o.shards}` : ''} --concurrency ${o.concurrency}`,
    `- started ${r.startedAt}, wall time ${r.wallS.toFixed(0)} s; ${r.population.users} users, ${r.population.items} items`,
    `- faults injected: ${r.faults.length} (${kinds})`,
    `- checkouts: ${r.checkouts.total}; by final answer: ${fmtCounts(r.checkouts.byFinal)}`,
    `- checkouts that saw an indeterminate answer first: ${r.checkouts.withIndeterminate}; indeterminate answers: ${fmtCounts(r.indeterminate)}`,
    `- checkout latency (all attempts): p50 ${r.checkouts.latencyMs.p50} ms, p99 ${r.checkouts.latencyMs.p99} ms, max ${r.checkouts.latencyMs.max} ms`,
    `- addItem answers: ${fmtCounts(r.addItems)} (indeterminate: ${fmtCounts(r.addItemIndeterminate)}); bad inputs: ${r.badInputs.total} (${r.badInputs.wrong} answered wrongly)`,
    `- slowest recovery: ${r.recovery.slowestMs !== undefined ? `${r.recovery.slowestMs} ms (${r.recovery.slowestFault})` : 'n/a'}; longest checkout around a fault: ${r.recovery.longestCheckoutMs ?? 'n/a'} ms`,
    ...r.indeterminateCheckouts.slice(0, 3).map((c) => `  - e.g. order ${c.orderId} (tx ${c.txIds.join(',') || '?'}) at ${c.firstAt} ms: ${c.answers.slice(0, 120)}`),
    `- unplanned restarts (crashes no fault explains): ${fmtCounts(r.unplannedRestarts)}`,
    `- failovers: ${r.failovers.total}; with no fault on the group's primary to explain them: ${r.failovers.unexplained.length}${examples(
      r.failovers.unexplained.map((f) => `${f.group} to ${f.name} at ${f.t} ms`),
    )}`,
    `- quiescence after healing: ${r.quiescenceMs !== undefined ? `${r.quiescenceMs} ms` : 'TIMED OUT'}`,
    ...availabilityLines(r.availability),
  ];
  if (r.replication !== undefined) {
    lines.push(`- replication: ${r.replication.map((g) => `${g.group} ${g.problem ?? `1 primary, ${g.nodes.length - 1} replicas identical (${g.nodes[0]?.keys ?? '?'} keys)`}`).join('; ')}`);
  }
  if (r.violations.length > 0) {
    lines.push('', `## Violations (${r.violations.length})`, '');
    for (const v of r.violations.slice(0, 50)) lines.push(`- ${formatViolation(v)}`);
    if (r.violations.length > 50) lines.push(`- … ${r.violations.length - 50} more in the JSON report`);
  }
  return lines.join('\n') + '\n';
}

function availabilityLines(a: AvailabilityReport): string[] {
  const noPathMs = a.noPath.reduce((sum, n) => sum + (n.to - n.from), 0);
  const pauses = Object.entries(a.pauses)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([kind, p]) => `  - ${kind}: ${p.faults} faults; checkouts waited p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms`);
  return [
    `- failed checkout attempts (5xx, reset, no answer): ${a.failedAttempts.total}; excused (no path): ${a.failedAttempts.excused}; while a path existed: ${a.failedAttempts.unexcused}`,
    `- moments without a path: ${a.noPath.length} (${(noPathMs / 1000).toFixed(1)} s in all)${a.noPath.slice(0, 5).map((n) => `; ${n.from}-${n.to} ms ${n.reason}`).join('')}`,
    `- longest checkout attempt: ${a.longestAttemptMs} ms; attempts over 10 s: ${a.attemptsOver10s}`,
    ...(pauses.length > 0 ? ['- how long checkouts waited from a fault, by kind:', ...pauses] : []),
  ];
}

export function writeReport(r: ChaosReport, dir: string): { json: string; md: string } {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${r.startedAt.replace(/[:.]/g, '-')}-seed-${r.seed}`);
  const files = { json: `${base}.json`, md: `${base}.md` };
  fs.writeFileSync(files.json, JSON.stringify({ ...r, files }, null, 2) + '\n');
  fs.writeFileSync(files.md, summary(r));
  return files;
}
