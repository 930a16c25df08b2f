/** The command line of `npm run snapshot` (main.ts), checked whole before anything runs. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, MAX_SHARDS, parseHostPort } from '@shop/common/config.js';
import { UsageError } from './errors.js';
import { parsePeriod } from './schedule.js';
import type { SentinelTarget } from './source.js';

export const USAGE = `usage: npm run snapshot -- <dir> [options]
       node packages/launcher/dist/src/snapshot/main.js <dir> [options]   (built, as in the tools image)

Writes one consistent cut of every service's data into <dir> (new or empty): one RDB file
per Redis group and manifest.json (time, layout, shards, checksums, the cut's counts). New
checkouts wait while the unfinished ones end and every primary marks its point (tens of ms);
none fails. Restore with: npm start -- --restore <dir> --data-dir <fresh dir>

Where the shop runs (one or the other):
  --data-dir DIR          a data dir of npm start (default ./data)
  --sentinels LIST        host:port,... of its Sentinels (docker-compose, Kubernetes); the
                          password is read from REDIS_PASSWORD in the environment
  --shards N              with --sentinels: Redis groups per service, as REDIS_SHARDS of the
                          services (default 1); the Sentinels must watch exactly those groups

Into <dir>/<UTC time>/ (such as <dir>/2026-12-01T10-15-00Z/), <dir> a root of snapshots:
  --stamp                 one snapshot
  --every PERIOD          one every PERIOD (90, 90s, 15m, 1h, 1d) until SIGTERM or SIGINT;
                          a failed one is reported and the next period tries again
  --keep N                after each, keep the newest N complete snapshots of <dir> and
                          remove the older ones (nothing else: no partial or foreign one)

  --retries N             take again a snapshot that failed for a passing cause (a failover
                          during it), up to N times, pausing 1, 2, 4 ... 10 s (default 3)
  --drain-timeout-ms N    longest wait for unfinished checkouts to end (default 5000)
  --help                  this text

Exit status: 0 taken (or the schedule stopped), 1 not taken, 2 a wrong command line.`;

export const OPTIONS = {
  'data-dir': { type: 'string' },
  sentinels: { type: 'string' },
  shards: { type: 'string' },
  stamp: { type: 'boolean' },
  every: { type: 'string' },
  keep: { type: 'string' },
  retries: { type: 'string' },
  'drain-timeout-ms': { type: 'string' },
  help: { type: 'boolean' },
} as const;

export type ShopAt = { kind: 'data-dir'; dataDir: string } | ({ kind: 'sentinels' } & SentinelTarget);

export interface SnapshotCli {
  dir: string;
  at: ShopAt;
  /** Into `<dir>/<stamp>/` rather than `<dir>` (--stamp, --every). */
  stamped: boolean;
  everyMs: number | undefined;
  keep: number | undefined;
  retries: number;
  drainTimeoutMs: number;
}

/** The command line, or 'help'; throws UsageError on a wrong one. */
export function parseCli(argv: string[], env: Record<string, string | undefined> = process.env): SnapshotCli | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help === true) return 'help';
  if (positionals.length !== 1) throw new UsageError('give one snapshot directory');
  const stamped = v.stamp === true || v.every !== undefined;
  const everyMs = v.every === undefined ? undefined : parsePeriod(v.every);
  if (everyMs === undefined && v.every !== undefined) throw new UsageError(`--every takes a period of a second or more (90, 90s, 15m, 1h, 1d), got ${v.every}`);
  if (v.keep !== undefined && !stamped) throw new UsageError('--keep goes with --stamp or --every: it prunes a root of dated snapshots, never <dir> itself');
  return {
    dir: positionals[0]!,
    at: shopAt(v, env),
    stamped,
    everyMs,
    keep: v.keep === undefined ? undefined : wholeNumber('--keep', v.keep, 1, 100_000),
    retries: wholeNumber('--retries', v.retries ?? '3', 0, 100),
    drainTimeoutMs: wholeNumber('--drain-timeout-ms', v['drain-timeout-ms'] ?? '5000', 1, 3_600_000),
  };
}

function shopAt(v: { 'data-dir'?: string; sentinels?: string; shards?: string }, env: Record<string, string | undefined>): ShopAt {
  if (v.sentinels === undefined) {
    if (v.shards !== undefined) throw new UsageError('--shards goes with --sentinels (a data dir records its own shard count)');
    return { kind: 'data-dir', dataDir: path.resolve(v['data-dir'] ?? 'data') };
  }
  if (v['data-dir'] !== undefined) throw new UsageError('--data-dir and --sentinels are two ways to reach the shop: give one');
  let sentinels;
  try {
    sentinels = v.sentinels
      .split(',')
      .filter((s) => s.trim() !== '')
      .map((s) => parseHostPort(s.trim(), '--sentinels'));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (sentinels.length === 0) throw new UsageError('--sentinels lists no Sentinel');
  const password = env.REDIS_PASSWORD;
  // Never an argument: a command line is visible to every user of the host (ps).
  if (password === undefined || password === '') throw new UsageError('--sentinels needs the Redis password in the environment: set REDIS_PASSWORD');
  return { kind: 'sentinels', sentinels, shards: wholeNumber('--shards', v.shards ?? '1', 1, MAX_SHARDS), password };
}

function wholeNumber(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max || text.trim() === '') throw new UsageError(`${name} takes a whole number in ${min}..${max}, got ${text}`);
  return n;
}
