/**
 * What a level's snapshots paused: percentiles of the pause (freeze to thaw) and of its two
 * parts, the drain (unfinished checkouts ending) and the mark (pause - drain: SYNC to every
 * primary and its fork), from the manifests' pauseMs and drainMs.
 */

/** Nearest rank: the smallest sample with at least p% of the samples at or below it (of 20, p99 is the largest). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface Spread {
  p50: number;
  p99: number;
  max: number;
}

export interface PauseStats {
  snapshots: number;
  pause: Spread;
  drain: Spread;
  /** pause - drain: the marks (SYNC's round trip and each primary's fork) and the thaw's start. */
  mark: Spread;
}

const spread = (xs: readonly number[]): Spread => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), max: percentile(xs, 100) });

export function pauseStats(cuts: readonly { pauseMs: number; drainMs: number }[]): PauseStats {
  return {
    snapshots: cuts.length,
    pause: spread(cuts.map((c) => c.pauseMs)),
    drain: spread(cuts.map((c) => c.drainMs)),
    mark: spread(cuts.map((c) => c.pauseMs - c.drainMs)),
  };
}
