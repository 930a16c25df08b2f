/**
 * The few figures the console needs from the services' Prometheus text (`/metrics`), and the
 * arithmetic on them: counter deltas between two scrapes and quantiles of histogram deltas.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Samples of the metrics whose names start with `prefix` (the rest is skipped unparsed). */
export function parseProm(text: string, prefix = 'shop_'): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

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

/**
 * The q-quantile of a histogram given as cumulative bucket counts by upper bound (`le`),
 * interpolated linearly inside its bucket as Prometheus' histogram_quantile does; undefined
 * when nothing was observed.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? (bounds.length > 0 ? buckets.get(bounds[bounds.length - 1]!) : 0) ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const count = buckets.get(le) ?? 0;
    if (count >= rank) {
      // Beyond the last finite bound nothing says how far: answer that bound.
      if (le === Infinity) return lower;
      const inBucket = count - below;
      return inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
    }
    lower = le;
    below = count;
  }
  return lower;
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
