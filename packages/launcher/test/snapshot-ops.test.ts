/**
 * The snapshot command's operations, without a cluster: its command line (snapshot/cli.ts),
 * the schedule's periods, names and slots (schedule.ts), retention on directories of fake
 * snapshots (retention.ts), the retries (retry.ts) and the scheduler's loop (scheduler.ts)
 * with a take that writes fake snapshots. test/e2e/snapshot-ops.test.ts runs them all against
 * a real cluster.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parseCli, type SnapshotCli } from '../src/snapshot/cli.js';
import { FailedOverError, SnapshotAbortedError, SnapshotError, UsageError } from '../src/snapshot/errors.js';
import { completeSnapshots, prune } from '../src/snapshot/retention.js';
import { withRetries } from '../src/snapshot/retry.js';
import { isStamp, nextSlot, parsePeriod, stampOf } from '../src/snapshot/schedule.js';
import { runSchedule } from '../src/snapshot/scheduler.js';
import { MANIFEST } from '../src/snapshot/take.js';
import { testTopology, writeSnapshot } from './fixtures.js';

const ENV = { REDIS_PASSWORD: 'pw' };
const cli = (argv: string[], env: Record<string, string | undefined> = ENV): SnapshotCli => {
  const parsed = parseCli(argv, env);
  assert.notEqual(parsed, 'help');
  return parsed as SnapshotCli;
};

describe('the command line', () => {
  test('a data dir (the default ./data), one snapshot into <dir>, 3 retries', () => {
    assert.deepEqual(cli(['out']), { dir: 'out', at: { kind: 'data-dir', dataDir: path.resolve('data') }, stamped: false, everyMs: undefined, keep: undefined, retries: 3, drainTimeoutMs: 5000 });
  });

  test('--sentinels: the addresses, the shard count, and the password from REDIS_PASSWORD', () => {
    assert.deepEqual(cli(['/snapshots', '--sentinels', 'sentinel-0:26379, sentinel-1:26379,sentinel-2:26379', '--shards', '2']).at, {
      kind: 'sentinels',
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: 'sentinel-1', port: 26379 },
        { host: 'sentinel-2', port: 26379 },
      ],
      shards: 2,
      password: 'pw',
    });
    assert.equal((cli(['x', '--sentinels', '127.0.0.1:26379']).at as { shards: number }).shards, 1);
  });

  test('a schedule: --every implies dated directories; --keep, --retries', () => {
    const c = cli(['/snapshots', '--sentinels', 's:1', '--every', '15m', '--keep', '24', '--retries', '0']);
    assert.deepEqual([c.stamped, c.everyMs, c.keep, c.retries], [true, 900_000, 24, 0]);
    assert.deepEqual([cli(['r', '--stamp', '--keep', '2']).stamped, cli(['r', '--stamp']).everyMs], [true, undefined]);
  });

  const wrong: [string, string[], Record<string, string | undefined>, RegExp][] = [
    ['both ways to the shop', ['x', '--data-dir', 'd', '--sentinels', 's:1'], ENV, /--data-dir and --sentinels are two ways to reach the shop: give one/],
    ['no password in the environment', ['x', '--sentinels', 's:1'], {}, /--sentinels needs the Redis password in the environment: set REDIS_PASSWORD/],
    ['an empty password', ['x', '--sentinels', 's:1'], { REDIS_PASSWORD: '' }, /set REDIS_PASSWORD/],
    ['--shards with a data dir', ['x', '--shards', '2'], ENV, /--shards goes with --sentinels/],
    ['a Sentinel without a port', ['x', '--sentinels', 'sentinel-0'], ENV, /--sentinels: "sentinel-0" is not host:port/],
    ['no Sentinel', ['x', '--sentinels', ','], ENV, /--sentinels lists no Sentinel/],
    ['0 shards', ['x', '--sentinels', 's:1', '--shards', '0'], ENV, /--shards takes a whole number in 1\.\.256, got 0/],
    ['--keep without a dated root', ['x', '--keep', '3'], ENV, /--keep goes with --stamp or --every/],
    ['--keep 0', ['x', '--every', '1h', '--keep', '0'], ENV, /--keep takes a whole number in 1\.\.100000, got 0/],
    ['a period under a second', ['x', '--every', '0s'], ENV, /--every takes a period of a second or more/],
    ['a period in an unknown unit', ['x', '--every', '2w'], ENV, /got 2w/],
    ['negative retries', ['x', '--retries=-1'], ENV, /--retries takes a whole number in 0\.\.100, got -1/],
    ['two directories', ['x', 'y'], ENV, /give one snapshot directory/],
    ['an unknown option', ['x', '--shard', '2'], ENV, /Unknown option '--shard'/],
  ];
  for (const [what, argv, env, message] of wrong) {
    test(`refused, final: ${what}`, () => {
      assert.throws(
        () => parseCli(argv, env),
        (err: unknown) => err instanceof UsageError && !err.retryable && message.test(err.message),
      );
    });
  }
});

describe('the schedule', () => {
  test('periods: seconds by default, s, m, h, d; a second at least', () => {
    assert.deepEqual(['90', '90s', '15m', '1h', '1d', '1'].map(parsePeriod), [90_000, 90_000, 900_000, 3_600_000, 86_400_000, 1_000]);
    for (const bad of ['0', '0m', '1.5m', '-1', 'm', '15 m', '1w', '']) assert.equal(parsePeriod(bad), undefined, bad);
  });

  test('a directory is named by its UTC start, to the second, and names sort as times', () => {
    assert.equal(stampOf(new Date('2026-12-01T10:15:00.789Z')), '2026-12-01T10-15-00Z');
    assert.equal(isStamp('2026-12-01T10-15-00Z'), true);
    for (const other of ['2026-12-01T10-15-00Z.partial-42', '2026-12-01', 'latest', '2026-12-01T10:15:00Z']) assert.equal(isStamp(other), false, other);
    const names = ['2026-12-01T09-59-59Z', '2026-11-30T23-00-00Z', '2026-12-01T10-00-00Z'];
    assert.deepEqual([...names].sort(), ['2026-11-30T23-00-00Z', '2026-12-01T09-59-59Z', '2026-12-01T10-00-00Z']);
  });

  test('the next slot is the first after now; an overrun skips the missed slots', () => {
    assert.equal(nextSlot(1_000, 100, 1_000), 1_100);
    assert.equal(nextSlot(1_000, 100, 1_050), 1_100);
    assert.equal(nextSlot(1_000, 100, 1_100), 1_200);
    assert.equal(nextSlot(1_000, 100, 1_399), 1_400);
  });
});

describe('retention', () => {
  let root: string;
  const topology = testTopology('ha', { shards: 2 });
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-retention-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('keeps the newest N complete snapshots and removes only older complete ones of ours', () => {
    const complete = ['2026-12-01T10-00-00Z', '2026-12-01T11-00-00Z', '2026-12-01T12-00-00Z', '2026-12-01T13-00-00Z'];
    for (const name of complete) writeSnapshot(path.join(root, name), topology);
    // Not complete, or not ours: each stays whatever its age.
    const partial = '2026-12-01T14-00-00Z.partial-4242';
    fs.mkdirSync(path.join(root, partial));
    fs.writeFileSync(path.join(root, partial, 'order.rdb'), 'REDIS');
    const noManifest = '2026-12-01T09-00-00Z';
    fs.mkdirSync(path.join(root, noManifest));
    const truncated = '2026-12-01T08-00-00Z';
    writeSnapshot(path.join(root, truncated), topology);
    fs.writeFileSync(path.join(root, truncated, 'stock-s1.rdb'), 'REDIS');
    const otherFormat = '2026-12-01T07-00-00Z';
    writeSnapshot(path.join(root, otherFormat), topology);
    const manifest = JSON.parse(fs.readFileSync(path.join(root, otherFormat, MANIFEST), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(root, otherFormat, MANIFEST), JSON.stringify({ ...manifest, format: 99 }));
    const namedByHand = 'before-upgrade';
    writeSnapshot(path.join(root, namedByHand), topology);
    fs.writeFileSync(path.join(root, 'notes.txt'), 'mine');

    assert.deepEqual(completeSnapshots(root), complete);
    assert.deepEqual(prune(root, 2), { kept: complete.slice(2), removed: complete.slice(0, 2) });
    assert.deepEqual(fs.readdirSync(root).sort(), [...complete.slice(2), partial, noManifest, truncated, otherFormat, namedByHand, 'notes.txt'].sort());
    assert.deepEqual(prune(root, 2), { kept: complete.slice(2), removed: [] });
    assert.deepEqual(prune(root, 1), { kept: complete.slice(3), removed: complete.slice(2, 3) });
  });

  test('a root that does not exist yet holds no snapshot', () => {
    assert.deepEqual(prune(path.join(root, 'none'), 1), { kept: [], removed: [] });
  });
});

describe('retries', () => {
  test('a failover is retried up to --retries times, then its error is thrown', async () => {
    let attempts = 0;
    const lines: string[] = [];
    const failing = async (): Promise<never> => {
      attempts++;
      throw new FailedOverError('stock-s1 failed over during the snapshot: take it again');
    };
    await assert.rejects(withRetries(failing, { retries: 3, backoffMs: 1, log: (l) => lines.push(l) }), FailedOverError);
    assert.equal(attempts, 4);
    assert.deepEqual(lines.map((l) => l.replace(/.*; /, '')), ['retry 1 of 3 in 1 ms', 'retry 2 of 3 in 2 ms', 'retry 3 of 3 in 4 ms']);
  });

  test('a retry that succeeds returns its result; a final error is not retried', async () => {
    let n = 0;
    assert.equal(await withRetries(async () => (++n < 3 ? Promise.reject(new FailedOverError('x')) : 'taken'), { retries: 3, backoffMs: 1 }), 'taken');
    assert.equal(n, 3);
    n = 0;
    const final = new SnapshotError('2 checkout transaction(s) did not end within 5000 ms');
    const once = async (): Promise<never> => {
      n++;
      throw final;
    };
    await assert.rejects(withRetries(once, { retries: 3, backoffMs: 1 }), final);
    assert.equal(n, 1);
  });

  test('a stop during the pause ends the retries at once', async () => {
    const stop = new AbortController();
    const started = Date.now();
    setTimeout(() => stop.abort(), 20);
    await assert.rejects(withRetries(async () => Promise.reject(new FailedOverError('x')), { retries: 3, backoffMs: 10_000, signal: stop.signal }), SnapshotAbortedError);
    assert.ok(Date.now() - started < 5_000);
  });
});

describe('the scheduler', () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-schedule-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('one line per attempt; a failed attempt is reported and the next slot goes on; --keep prunes; a stop ends it', async () => {
    const stop = new AbortController();
    const lines: string[] = [];
    let clock = Date.parse('2026-12-01T10:00:00Z');
    let attempt = 0;
    const done = await runSchedule({
      root,
      keep: 1,
      retries: 3,
      periodMs: 5,
      signal: stop.signal,
      // A fake clock a second on per call: every attempt gets its own name.
      now: () => (clock += 1_000),
      report: (line) => lines.push(line),
      take: async (dir) => {
        attempt++;
        if (attempt === 4) stop.abort();
        if (attempt === 2) throw new FailedOverError('stock failed over during the snapshot (a:1 -> b:1): take it again');
        return writeSnapshot(dir, testTopology('ha'));
      },
    });
    assert.deepEqual(done, { taken: 3, failed: 1 });
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^snapshot 2026-12-01T10-00-\d\dZ: ok, 3 files, 0 orders \(0 paid\), 0 checkout transactions; checkouts paused 1 ms, took 2 ms; kept 1, removed none$/);
    assert.match(lines[1]!, /^snapshot \S+: failed \(retryable, 3 retries used up\): stock failed over during the snapshot/);
    assert.match(lines[2]!, /: ok, .*; kept 1, removed 2026-12-01T10-00-\d\dZ$/);
    // Only the newest remains: the one the last line names.
    assert.deepEqual(completeSnapshots(root), [/^snapshot (\S+):/.exec(lines[3]!)?.[1]]);
  });
});
