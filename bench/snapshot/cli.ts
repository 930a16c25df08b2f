/** Command line of `npm run bench:snapshot` (main.ts). */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_BATCH } from '@shop/common/validate.js';
import { positiveInt } from '../cli.js';

/** A load level: wrk as fast as its connections go, or held to about `rate` checkouts/s. */
export type Level = { kind: 'full' } | { kind: 'rate'; rate: number };

export interface SnapshotBenchOptions {
  levels: Level[];
  /** Seconds of each window: one without snapshots, then one with them, per level. */
  windowS: number;
  /** Fixed time from one snapshot's start to the next's; 0: back to back. */
  everyMs: number;
  /**
   * Most snapshots at once: above 1, a new one starts while earlier ones still check their
   * copies (never during another's cut). More pauses per window, but the throughput then
   * pays for several checks at once: not the cost of one schedule.
   */
  overlap: number;
  /** Most snapshots per level (the window still runs its length). */
  maxSnapshots: number;
  connections: number;
  threads: number;
  shards: number;
  warmupS: number;
  /** Upper guess of the committed rate, sizes the fresh orders of each window. */
  maxRate: number;
  outDir: string;
}

export const USAGE = `usage: npm run bench:snapshot -- [options]

What a consistent snapshot costs under load (issue 15): starts its own HA cluster on free
loopback ports, and for each level loads course-shaped data, runs wrk on fresh orders for a
window without snapshots, then a window of the same length while snapshots are taken
through \`npm run snapshot\` (one-off, through the Sentinels). Reports per level the pause
(freeze to thaw) with its drain and mark parts, the throughput without and with snapshots,
wrk's errors, and whether each snapshot is exact. Writes result.json and report.md. Exits 1
when a check failed. See bench/README.md.

  --levels LIST          full (as fast as the connections go) or a rate in checkouts/s,
                         comma-separated (default full,1000)
  --window SECONDS       length of each window (default 60)
  --every-ms N           start a snapshot every N ms (or when the last ends, if later);
                         default 0: back to back
  --overlap N            up to N snapshots at once: the next starts once the last one's cut
                         is taken, while earlier ones still check their copies; more pauses
                         per window, but the throughput then pays for N checks (default 1)
  --max-snapshots N      most snapshots per level (default 1000)
  --connections N        wrk connections, at every level (default 64)
  --threads N            wrk threads (default 2)
  --shards N             Redis groups per service (default 1)
  --warmup SECONDS       load before the first level, not measured (default 10)
  --max-rate N           expected committed/s ceiling, sizes the fresh orders (default 4000)
  --out DIR              output directory (default bench/results/snapshot-<timestamp>)
  --help                 this text`;

export const OPTIONS = {
  levels: { type: 'string' },
  window: { type: 'string' },
  'every-ms': { type: 'string' },
  overlap: { type: 'string' },
  'max-snapshots': { type: 'string' },
  connections: { type: 'string' },
  threads: { type: 'string' },
  shards: { type: 'string' },
  warmup: { type: 'string' },
  'max-rate': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseLevels(text: string): Level[] {
  const levels = text
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s): Level => {
      const t = s.trim();
      if (t === 'full') return { kind: 'full' };
      const rate = Number(t);
      if (!Number.isSafeInteger(rate) || rate < 1) throw new Error(`--levels takes full or a rate in checkouts/s, got ${t}`);
      return { kind: 'rate', rate };
    });
  if (levels.length === 0) throw new Error('--levels names no level');
  return levels;
}

export const levelName = (l: Level): string => (l.kind === 'full' ? 'full load' : `${l.rate.toLocaleString('en-US')} checkouts/s`);

export function parseSnapshotBenchCli(argv: string[], now = new Date()): SnapshotBenchOptions | 'help' {
  const { values } = parseArgs({ args: argv, strict: true, options: OPTIONS });
  if (values.help === true) return 'help';
  const stamp = now.toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const windowS = positiveInt('window', values.window, 60);
  const maxRate = positiveInt('max-rate', values['max-rate'], 4000);
  // Both windows' fresh orders come from one batch_init, which the API caps.
  if (2 * windowS * maxRate > MAX_BATCH) {
    throw new Error(`2 windows x --window ${windowS} s x --max-rate ${maxRate}/s needs more fresh orders than one batch_init makes (${MAX_BATCH}): shorten --window or lower --max-rate`);
  }
  return {
    levels: parseLevels(values.levels ?? 'full,1000'),
    windowS,
    everyMs: values['every-ms'] === '0' ? 0 : positiveInt('every-ms', values['every-ms'], 0),
    overlap: positiveInt('overlap', values.overlap, 1),
    maxSnapshots: positiveInt('max-snapshots', values['max-snapshots'], 1000),
    connections: positiveInt('connections', values.connections, 64),
    threads: positiveInt('threads', values.threads, 2),
    shards: positiveInt('shards', values.shards, 1),
    warmupS: values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, 10),
    maxRate,
    outDir: path.resolve(values.out ?? path.join('bench', 'results', `snapshot-${stamp}`)),
  };
}
