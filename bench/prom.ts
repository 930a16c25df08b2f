/** Just enough of the Prometheus text format to read the services' counters and histograms. */
import { request } from 'undici';
import { bucketQuantile, parseProm, type Sample } from '@shop/common/prom-text.js';

export async function scrape(url: string, timeoutMs = 2000): Promise<Sample[]> {
  const res = await request(`${url}/metrics`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}/metrics answered ${res.statusCode}`);
  return [...parseProm(text), ...parseProm(text, 'nodejs_gc_duration_seconds')];
}

export const CHECKOUT_ROUTE = '/checkout/:order_id';

/** What the bench reads from all replicas of the services at one moment, summed over replicas. */
export interface MetricsPoint {
  atMs: number;
  /** shop_checkouts_total by outcome (committed, already_paid, refusal codes). */
  checkouts: Record<string, number>;
  /** Public checkout answers by HTTP status. */
  checkoutStatus: Record<string, number>;
  /** BUSY answers to a checkout's reserve, by participant (shop_checkout_busy_waits_total). */
  busyWaits: Record<string, number>;
  /** Cumulative bucket counts of the public checkout latency, by upper bound in seconds. */
  checkoutBuckets: Map<number, number>;
  /** Requests answered per service and surface (internal = participant steps), all routes. */
  requests: Record<string, number>;
  /** shop_batch_size by "<service> <kind>": cumulative sum, count and bucket counts. */
  batches: Record<string, CumulativeHistogram>;
  /** nodejs_gc_duration_seconds by "<service> <kind>" (major, minor, incremental, weakcb). */
  gc: Record<string, CumulativeHistogram>;
  /** Replicas that did not answer this scrape. */
  missing: string[];
}

/** A Prometheus histogram as read: cumulative sum, count and bucket counts (by upper bound). */
export interface CumulativeHistogram {
  sum: number;
  count: number;
  buckets: Map<number, number>;
}

function add(rec: Record<string, number>, key: string, v: number): void {
  rec[key] = (rec[key] ?? 0) + v;
}

/** A point with nothing read yet. */
export function emptyPoint(atMs = Date.now()): MetricsPoint {
  return { atMs, checkouts: {}, checkoutStatus: {}, busyWaits: {}, checkoutBuckets: new Map(), requests: {}, batches: {}, gc: {}, missing: [] };
}

/** Adds one replica's scraped samples to a point (sums over replicas). */
export function addSamples(point: MetricsPoint, service: string, samples: readonly Sample[]): void {
  const count = (buckets: Map<number, number>, le: string | undefined, v: number): void => {
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + v);
  };
  const histogram = (into: Record<string, CumulativeHistogram>, key: string, s: Sample, prefix: string): void => {
    const h = (into[key] ??= { sum: 0, count: 0, buckets: new Map() });
    if (s.name === `${prefix}_sum`) h.sum += s.value;
    else if (s.name === `${prefix}_count`) h.count += s.value;
    else if (s.name === `${prefix}_bucket`) count(h.buckets, s.labels.le, s.value);
  };
  for (const s of samples) {
    const l = s.labels;
    if (s.name === 'shop_checkouts_total') add(point.checkouts, l.outcome ?? '?', s.value);
    else if (s.name === 'shop_checkout_busy_waits_total') add(point.busyWaits, l.participant ?? '?', s.value);
    else if (s.name === 'shop_http_requests_total') {
      add(point.requests, `${service}/${l.surface ?? '?'}`, s.value);
      if (l.surface === 'public' && l.route === CHECKOUT_ROUTE) add(point.checkoutStatus, l.status ?? '?', s.value);
    } else if (s.name.startsWith('shop_batch_size_')) histogram(point.batches, `${service} ${l.kind ?? '?'}`, s, 'shop_batch_size');
    else if (s.name.startsWith('nodejs_gc_duration_seconds_')) histogram(point.gc, `${service} ${l.kind ?? '?'}`, s, 'nodejs_gc_duration_seconds');
    else if (s.name === 'shop_http_request_duration_seconds_bucket' && l.surface === 'public' && l.route === CHECKOUT_ROUTE) {
      count(point.checkoutBuckets, l.le, s.value);
    }
  }
}

export async function readPoint(replicas: { name: string; service: string; internalUrl: string }[]): Promise<MetricsPoint> {
  const point = emptyPoint();
  const scraped = await Promise.allSettled(replicas.map((r) => scrape(r.internalUrl)));
  scraped.forEach((res, i) => {
    const r = replicas[i]!;
    if (res.status === 'rejected') point.missing.push(r.name);
    else addSamples(point, r.service, res.value);
  });
  return point;
}

export function recordDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** The q-quantile of the observations between two cumulative bucket readings `a` and `b`. */
export function histogramQuantile(q: number, a: Map<number, number>, b: Map<number, number>): number | undefined {
  const window = new Map<number, number>();
  for (const [le, count] of b) window.set(le, count - (a.get(le) ?? 0));
  return bucketQuantile(q, window);
}

/** Batch sizes over a window, by "<service> <kind>": mean, median and p90 calls per batch, and batches. */
export interface BatchSizes {
  batches: number;
  mean: number;
  p50: number | undefined;
  p90: number | undefined;
}

/**
 * Each histogram of `b`'s record that grew since `a`, summarised by `summary` from its
 * cumulative readings at both ends and the number of new observations.
 */
function histogramsDelta<T>(
  a: Record<string, CumulativeHistogram>,
  b: Record<string, CumulativeHistogram>,
  summary: (before: CumulativeHistogram, after: CumulativeHistogram, observed: number) => T,
): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, after] of Object.entries(b)) {
    const before = a[key] ?? { sum: 0, count: 0, buckets: new Map<number, number>() };
    const observed = after.count - before.count;
    if (observed > 0) out[key] = summary(before, after, observed);
  }
  return out;
}

export function batchSizesDelta(a: MetricsPoint, b: MetricsPoint): Record<string, BatchSizes> {
  return histogramsDelta(a.batches, b.batches, (ha, hb, batches) => ({
    batches,
    mean: (hb.sum - ha.sum) / batches,
    p50: histogramQuantile(0.5, ha.buckets, hb.buckets),
    p90: histogramQuantile(0.9, ha.buckets, hb.buckets),
  }));
}

/** Garbage collection over a window, by "<service> <kind>": pauses, their total and how many lasted 10 ms or more. */
export interface GcPauses {
  pauses: number;
  seconds: number;
  atLeast10ms: number;
}

export function gcDelta(a: MetricsPoint, b: MetricsPoint): Record<string, GcPauses> {
  return histogramsDelta(a.gc, b.gc, (ha, hb, pauses) => {
    const under10ms = (hb.buckets.get(0.01) ?? 0) - (ha.buckets.get(0.01) ?? 0);
    return { pauses, seconds: hb.sum - ha.sum, atLeast10ms: pauses - under10ms };
  });
}
