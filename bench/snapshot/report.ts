/** The snapshot bench's summary: one row per level (report.md, and the console). */
import type { WrkResult } from '../wrk.js';
import type { PauseStats } from './stats.js';

export interface WindowResult {
  /** Answers below 400 per second of the window: every one a committed checkout (fresh orders). */
  okPerS: number;
  /** Answers >= 400, and connect/read/write errors and timeouts: must all be 0 ("none fails"). */
  non2xx: number;
  socketErrors: number;
  latP99Ms: number;
  latMaxMs: number;
  wrk: WrkResult;
}

export interface LevelResult {
  name: string;
  nOrders: number;
  baseline: WindowResult;
  withSnapshots: WindowResult;
  stats: PauseStats;
  /** Every snapshot's pause and drain, in order, ms. */
  cuts: { pauseMs: number; drainMs: number; tookMs: number; atMs?: number; probe?: Record<string, number> | undefined }[];
  /** Snapshots that failed, and what was wrong with the ones taken (checksums, the cut). */
  failures: string[];
}

export function windowOf(wrk: WrkResult): WindowResult {
  return {
    okPerS: (wrk.requests - wrk.errStatus) / (wrk.durationUs / 1e6),
    non2xx: wrk.errStatus,
    socketErrors: wrk.errConnect + wrk.errRead + wrk.errWrite + wrk.errTimeout,
    latP99Ms: (wrk.latPercentilesUs['99'] ?? NaN) / 1000,
    latMaxMs: wrk.latMaxUs / 1000,
    wrk,
  };
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

export function costPercent(without: number, withSnapshots: number): number {
  return without > 0 ? ((withSnapshots - without) / without) * 100 : NaN;
}

export function summaryTable(levels: readonly LevelResult[]): string {
  const head = [
    '| load | snapshots | pause p50 / p99 / max (ms) | drain p50 / max | pause − drain p50 / max | checkouts/s without / with snapshots | checkout p99 / max latency without / with (ms) | non-2xx, socket errors | exact |',
    '|---|---:|---|---|---|---|---|---|---|',
  ];
  const rows = levels.map((l) => {
    const s = l.stats;
    const cost = costPercent(l.baseline.okPerS, l.withSnapshots.okPerS);
    const errs = `${l.baseline.non2xx + l.withSnapshots.non2xx}, ${l.baseline.socketErrors + l.withSnapshots.socketErrors}`;
    return [
      l.name,
      String(s.snapshots),
      `${int(s.pause.p50)} / ${int(s.pause.p99)} / ${int(s.pause.max)}`,
      `${int(s.drain.p50)} / ${int(s.drain.max)}`,
      `${int(s.mark.p50)} / ${int(s.mark.max)}`,
      `${int(l.baseline.okPerS)} / ${int(l.withSnapshots.okPerS)} (${Number.isFinite(cost) ? `${cost >= 0 ? '+' : '−'}${Math.abs(cost).toFixed(0)}%` : '–'})`,
      `${int(l.baseline.latP99Ms)} / ${int(l.baseline.latMaxMs)}; ${int(l.withSnapshots.latP99Ms)} / ${int(l.withSnapshots.latMaxMs)}`,
      errs,
      l.failures.length === 0 ? `all ${s.snapshots}` : `${l.failures.length} problem(s)`,
    ];
  });
  return [...head, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The slowest primary's fork at a cut, from the probe after it. */
function slowestFork(probe: Record<string, number> | undefined): string {
  const forks = Object.entries(probe ?? {}).filter(([k, v]) => k.endsWith('fork us') && Number.isFinite(v)).map(([, v]) => v);
  return forks.length === 0 ? '' : `, slowest primary fork ${(Math.max(...forks) / 1000).toFixed(1)}`;
}

/** Each level's pauses in the order taken, for reading outliers against their drain and fork. */
export function cutsList(levels: readonly LevelResult[]): string {
  return levels
    .map((l) => `- ${l.name}: ${l.cuts.map((c) => `${c.pauseMs}${c.drainMs > 0 || c.probe !== undefined ? ` (drain ${c.drainMs}${slowestFork(c.probe)})` : ''}`).join(', ') || 'none'}${l.failures.length > 0 ? `\n  problems: ${l.failures.join('; ')}` : ''}`)
    .join('\n');
}
