/**
 * A small seeded PRNG (mulberry32). Every random choice of a chaos run goes through one of
 * these, so a seed names the run's choices (the timing of a real cluster still varies).
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[Math.floor(this.next() * xs.length)] as T;
  }

  /** Exponentially distributed with this mean: the gaps of a Poisson rhythm. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** An independent stream, so that one worker's draws do not shift another's. */
  fork(label: number): Prng {
    return new Prng(Math.imul(this.int(0, 0x7fffffff) ^ Math.imul(label + 1, 0x9e3779b1), 0x85ebca6b));
  }
}

/** Picks by weight: `[[weight, value], ...]`. */
export function weighted<T>(rng: Prng, table: readonly (readonly [number, T])[]): T {
  const total = table.reduce((s, [w]) => s + w, 0);
  let x = rng.next() * total;
  for (const [w, v] of table) {
    x -= w;
    if (x < 0) return v;
  }
  const last = table[table.length - 1];
  if (last === undefined) throw new Error('empty weight table');
  return last[1];
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}
