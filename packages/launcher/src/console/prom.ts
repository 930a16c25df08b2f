/**
 * The few figures the console needs from the services' Prometheus text (`/metrics`), and the
 * arithmetic on them: counter deltas between two scrapes and quantiles of histogram deltas.
 */
import type { Sample } from '@shop/common/prom-text.js';

/** Sum of the samples named `name` whose labels include `match` (a function for anything finer). */
export function sum(samples: readonly Sample[], name: string, match: Record<string, string> | ((l: Record<string, string>) => boolean) = {}): number {
  const ok = typeof match === 'function' ? match : (l: Record<string, string>) => Object.entries(match).every(([k, v]) => l[k] === v);
  let total = 0;
  for (const s of samples) if (s.name === name && ok(s.labels) && Number.isFinite(s.value)) total += s.value;
  return total;
}

/** Growth of a counter between two scrapes of one process; a process restarted meanwhile starts from 0. */
export function counterDelta(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** Cumulative bucket counts (`<name>_bucket`) by `le`, summed over the matching samples. */
export function buckets(samples: readonly Sample[], name: string, match: Record<string, string>): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}
