/** Just enough of the Prometheus text format to read the services' counters and histograms. */
import { request } from 'undici';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Only the `shop_` families: the default process metrics are not read by the bench. */
export function parseProm(text: string, prefix = 'shop_'): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

export async function scrape(url: string, timeoutMs = 2000): Promise<Sample[]> {
  const res = await request(`${url}/metrics`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}/metrics answered ${res.statusCode}`);
  return parseProm(text);
}

export const CHECKOUT_ROUTE = '/checkout/:order_id';

/** What the bench reads from all replicas of the services at one moment, summed over replicas. */
export interface MetricsPoint {
  atMs: number;
  /** shop_checkouts_total by outcome (committed, already_paid, refusal codes). */
  checkouts: Record<string, number>;
  /** Public checkout answers by HTTP status. */
  checkoutStatus: Record<string, number>;
  /** Cumulative bucket counts of the public checkout latency, by upper bound in seconds. */
  checkoutBuckets: Map<number, number>;
  /** Requests answered per service and surface (internal = participant steps), all routes. */
  requests: Record<string, number>;
  /** Replicas that did not answer this scrape. */
  missing: string[];
}

function add(rec: Record<string, number>, key: string, v: number): void {
  rec[key] = (rec[key] ?? 0) + v;
}

export async function readPoint(replicas: { name: string; service: string; internalUrl: string }[]): Promise<MetricsPoint> {
  const point: MetricsPoint = {
    atMs: Date.now(),
    checkouts: {},
    checkoutStatus: {},
    checkoutBuckets: new Map(),
    requests: {},
    missing: [],
  };
  const scraped = await Promise.allSettled(replicas.map((r) => scrape(r.internalUrl)));
  scraped.forEach((res, i) => {
    const r = replicas[i]!;
    if (res.status === 'rejected') {
      point.missing.push(r.name);
      return;
    }
    for (const s of res.value) {
      const l = s.labels;
      if (s.name === 'shop_checkouts_total') add(point.checkouts, l.outcome ?? '?', s.value);
      else if (s.name === 'shop_http_requests_total') {
        add(point.requests, `${r.service}/${l.surface ?? '?'}`, s.value);
        if (l.surface === 'public' && l.route === CHECKOUT_ROUTE) add(point.checkoutStatus, l.status ?? '?', s.value);
      } else if (s.name === 'shop_http_request_duration_seconds_bucket' && l.surface === 'public' && l.route === CHECKOUT_ROUTE) {
        const le = l.le === '+Inf' ? Infinity : Number(l.le);
        point.checkoutBuckets.set(le, (point.checkoutBuckets.get(le) ?? 0) + s.value);
      }
    }
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

/**
 * A quantile from the difference of two cumulative histograms, interpolated linearly inside
 * the bucket as Prometheus' histogram_quantile does. Undefined when nothing was observed.
 */
export function histogramQuantile(q: number, a: Map<number, number>, b: Map<number, number>): number | undefined {
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => (b.get(le) ?? 0) - (a.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const le = bounds[i]!;
    const c = counts[i]!;
    if (c >= rank) {
      // Above the last finite bound nothing is known but the bound itself.
      if (le === Infinity) return prevBound;
      const inBucket = c - prevCount;
      return inBucket <= 0 ? le : prevBound + ((le - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = le;
    prevCount = c;
  }
  return prevBound;
}
