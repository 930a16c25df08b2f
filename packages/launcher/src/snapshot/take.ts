/**
 * A consistent snapshot of the whole shop: every Redis group's data at one cut that no
 * checkout straddles (issue 15).
 *
 * Only a checkout writes to more than one service. So the cut is a moment with no checkout
 * transaction in flight, held just long enough for every primary to fork:
 *   1. freeze: `snapshot:freeze` on every order shard (with a TTL); from here no new
 *      checkout transaction opens (checkout_begin.lua answers FROZEN and the coordinator
 *      waits), while the unfinished ones go on;
 *   2. drain: wait until every order shard's unfinished set is empty: each of those
 *      transactions was decided and applied at both participants;
 *   3. mark: ask every group's primary for an RDB over the replication protocol
 *      (rdb-stream.ts) and wait until each has forked: that fork is its point. The
 *      streams are connected and authenticated before step 1, so the pause holds only
 *      SYNC's round trip and the fork;
 *   4. thaw: delete the freeze. Checkouts waited only for steps 2 and 3 (the pause);
 *   5. receive the RDBs, then check each in a scratch redis-server (check.ts): nothing
 *      unfinished, no hold, and strip what belongs to the running cluster, not to the shop
 *      (the promotable set, guard lease, leases, the freeze). Written to a temporary
 *      directory, renamed into place only once complete, with a manifest of checksums.
 *
 * Writes other than checkouts (create, addItem, add_funds, pay) go on during the cut: each
 * touches one service, so a copy holding it or not is consistent either way.
 *
 * A failover during the snapshot (a primary that is no longer the Sentinels' choice after
 * the copies) fails it with a retryable error (FailedOverError); a drain that does not end (a
 * parked transaction) fails it for good. A signal (`signal`) abandons it between steps, and
 * kills a check under way. On every path the freeze is lifted, nothing half-written is left,
 * and the running system is left as it was.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { ServiceName } from '@shop/common/config.js';
import type { Address } from '@shop/common/replication/one-shot.js';
import { ACTIVE_KEY, FREEZE_KEY } from '@shop/order/keys.js';
import { checkCopy, type CopyCounts } from './check.js';
import { CUT_MARK_KEY } from './cut-mark.js';
import { FailedOverError, RetryableSnapshotError, SnapshotError, throwIfAborted } from './errors.js';
import { captureRdb, type RdbCapture } from './rdb-stream.js';

export const MANIFEST = 'manifest.json';
export const SNAPSHOT_FORMAT = 1;

export interface SnapshotGroup {
  /** Sentinel master name: `stock`, `stock-s1`. */
  group: string;
  service: ServiceName;
  shard: number;
}

/** A running shop, as the snapshot reaches it. */
export interface SnapshotSource {
  layout: 'ha' | 'single';
  shards: number;
  groups: SnapshotGroup[];
  password: string;
  /** Where each group's primary is now (Sentinels' majority, or the only server). */
  primaryOf(group: string): Promise<Address>;
}

export interface ManifestFile {
  group: string;
  service: ServiceName;
  shard: number;
  file: string;
  bytes: number;
  sha256: string;
  /** The primary it was copied from. */
  from: string;
  counts: CopyCounts;
}

export interface Manifest {
  format: number;
  takenAt: string;
  layout: 'ha' | 'single';
  shards: number;
  /** How long new checkouts were held back (freeze to thaw), ms. */
  pauseMs: number;
  /** Of which: waiting for the unfinished checkouts to end. */
  drainMs: number;
  /** The whole snapshot, ms. */
  tookMs: number;
  files: ManifestFile[];
  /** The cut, summed over every order shard. */
  orders: { total: number; paid: number; transactions: number; committed: number; aborted: number };
}

export interface SnapshotOptions {
  /** Longest wait for the unfinished checkouts to end (default 5 s). */
  drainTimeoutMs?: number;
  /** The freeze's TTL: a snapshot that dies holds checkouts back at most this long (default 10 s). */
  freezeTtlMs?: number;
  /** Called once the cut is taken and new checkouts go on (the CLI lowers its CPU priority). */
  afterCut?: () => void;
  /** redis-server binary for checking each copy. */
  redisServer: string;
  log?: (line: string) => void;
  /** Abandons the snapshot (SnapshotAbortedError): at once before the freeze, after the thaw otherwise. */
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function takeSnapshot(source: SnapshotSource, dir: string, o: SnapshotOptions): Promise<Manifest> {
  const log = o.log ?? (() => undefined);
  const target = path.resolve(dir);
  if (fs.existsSync(target) && fs.readdirSync(target).length > 0) throw new SnapshotError(`${target} exists and is not empty: choose a new directory`);
  throwIfAborted(o.signal);
  const started = Date.now();
  const primaries = new Map<string, Address>();
  for (const g of source.groups) primaries.set(g.group, await source.primaryOf(g.group));
  // One connection per primary; the order shards' carry the freeze and the drain.
  const conns = source.groups.map((g) => {
    const a = primaries.get(g.group)!;
    const redis = new Redis({ host: a.host, port: a.port, password: source.password, maxRetriesPerRequest: 1, lazyConnect: false });
    // Errors surface through the awaited commands; without a listener ioredis also prints them.
    redis.on('error', () => undefined);
    return { g, redis };
  });
  const all = conns.map((c) => c.redis);
  const orders = conns.filter((c) => c.g.service === 'order').map((c) => c.redis);
  const partial = `${target}.partial-${process.pid}`;
  const token = `${process.pid}-${started}`;
  // Set before the freeze is asked for: if one order shard's SET fails, the others' must still be lifted.
  let freezing = false;
  let frozenAt = 0;
  let thawedAt = 0;
  let drainedAt = 0;
  // Per group: its primary's connection, its RDB stream, and its fork count before the cut.
  let marks: { g: SnapshotGroup; redis: Redis; capture: RdbCapture; forksBefore: number }[] = [];
  const thaw = async () => {
    if (thawedAt !== 0 || !freezing) return;
    thawedAt = Date.now();
    // Only our own freeze and marks: a second snapshot's would be its to lift.
    const lift = (r: Redis, key: string) => r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, token);
    await Promise.allSettled([...orders.map((r) => lift(r, FREEZE_KEY)), ...all.map((r) => lift(r, CUT_MARK_KEY))]);
  };
  try {
    // A primary already forked (AOF rewrite, save) forks for SYNC only once that child ends:
    // measured, a 153 ms pause instead of ~20 ms. Let such a child end before freezing.
    await noChildProcess(all, o.drainTimeoutMs ?? 5_000, o.signal);
    throwIfAborted(o.signal);
    // Set up before the freeze: a connect and two round trips per primary, under load tens of
    // ms, were inside the pause. Nothing is copied until sync(): the point is still SYNC's fork.
    marks = conns.map((c) => ({ ...c, capture: captureRdb(primaries.get(c.g.group)!, source.password), forksBefore: 0 }));
    await Promise.all(marks.map((m) => m.capture.ready));
    // Forks so far, per primary: one more, once SYNC is sent, is the sign that its point is taken.
    for (const m of marks) m.forksBefore = await totalForks(m.redis);
    freezing = true;
    const ttl = o.freezeTtlMs ?? 10_000;
    // The mark has no TTL: a copy is checked long after the cut, and a scratch server drops
    // keys already expired when it loads them. One left by a snapshot that died is harmless
    // (nothing reads it but the check, which wants its own token) and the next one overwrites it.
    await Promise.all([...orders.map((r) => r.set(FREEZE_KEY, token, 'PX', ttl)), ...all.map((r) => r.set(CUT_MARK_KEY, token))]);
    frozenAt = Date.now();
    await drain(orders, o.drainTimeoutMs ?? 5_000, o.signal);
    drainedAt = Date.now();
    // SYNC makes each primary fork at once (repl-diskless-sync-delay 0): its point. The
    // primary counts the fork as soon as fork() returns, while the stream's first bytes come
    // only once the child runs and the parent relays them (measured at 1-2M orders: marks of
    // 47-111 ms around forks of 18-27 ms), all of it inside the pause. So the first of the two signs ends the
    // wait; a count that was another child's is caught by the cut mark (check.ts).
    for (const m of marks) m.capture.sync();
    try {
      await Promise.all(marks.map((m) => Promise.race([m.capture.forked, forkCounted(m.redis, m.forksBefore, m.capture.forked)])));
    } finally {
      await thaw();
    }
    log(`cut taken: checkouts paused ${thawedAt - frozenAt} ms (drain ${drainedAt - frozenAt} ms)`);
    o.afterCut?.();
    throwIfAborted(o.signal);
    const copies = await Promise.all(marks.map(async (m) => ({ g: m.g, rdb: await m.capture.done })));
    // A failover after the fork could have promoted a server without some of the writes the
    // copy holds, or the copy could come from a primary being failed over from: refuse both.
    for (const g of source.groups) {
      const now = await source.primaryOf(g.group);
      const then = primaries.get(g.group)!;
      if (now.host !== then.host || now.port !== then.port) throw new FailedOverError(`${g.group} failed over during the snapshot (${then.host}:${then.port} -> ${now.host}:${now.port}): take it again`);
    }
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(partial, { recursive: true });
    const files: ManifestFile[] = [];
    for (const { g, rdb } of copies) {
      throwIfAborted(o.signal);
      const checked = await checkCopy(rdb, g.service, o.redisServer, token, o.signal);
      const file = `${g.group}.rdb`;
      fs.writeFileSync(path.join(partial, file), checked.rdb);
      const from = primaries.get(g.group)!;
      files.push({ group: g.group, service: g.service, shard: g.shard, file, bytes: checked.rdb.length, sha256: sha256(checked.rdb), from: `${from.host}:${from.port}`, counts: checked.counts });
    }
    const sum = (k: keyof CopyCounts) => files.filter((f) => f.service === 'order').reduce((n, f) => n + (f.counts[k] ?? 0), 0);
    const manifest: Manifest = {
      format: SNAPSHOT_FORMAT,
      takenAt: new Date(drainedAt).toISOString(),
      layout: source.layout,
      shards: source.shards,
      pauseMs: thawedAt - frozenAt,
      drainMs: drainedAt - frozenAt,
      tookMs: Date.now() - started,
      files,
      orders: { total: sum('orders'), paid: sum('paid'), transactions: sum('transactions'), committed: sum('committed'), aborted: sum('aborted') },
    };
    fs.writeFileSync(path.join(partial, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    if (fs.existsSync(target)) fs.rmdirSync(target);
    fs.renameSync(partial, target);
    return manifest;
  } catch (err) {
    // Never a half-written snapshot beside the target.
    fs.rmSync(partial, { recursive: true, force: true });
    // Whatever broke once the signal came (a killed check, a closed connection) is the stop itself.
    throwIfAborted(o.signal);
    if (err instanceof SnapshotError) throw err;
    // A primary killed or failing over mid-snapshot: its connection or its RDB stream broke.
    throw new RetryableSnapshotError(`interrupted (${(err as Error).message}): a failover under way? Nothing was written; take it again`);
  } finally {
    await thaw();
    for (const m of marks) m.capture.cancel();
    for (const r of all) r.disconnect();
  }
}

/** Waits until no primary has a child process (AOF rewrite, RDB save) running. */
async function noChildProcess(primaries: Redis[], timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfAborted(signal);
    const infos = await Promise.all(primaries.map((r) => r.info('persistence')));
    if (infos.every((i) => /aof_rewrite_in_progress:0/.test(i) && /rdb_bgsave_in_progress:0/.test(i))) return;
    if (Date.now() > deadline) throw new RetryableSnapshotError(`a primary's AOF rewrite or save still runs after ${timeoutMs} ms: try again shortly`);
    await sleep(20);
  }
}

/** The primary's count of forks so far (INFO stats `total_forks`). */
async function totalForks(r: Redis): Promise<number> {
  const m = /total_forks:(\d+)/.exec(await r.info('stats'));
  if (m === null) throw new SnapshotError('a primary reports no total_forks (Redis 6.2 or later is needed)');
  return Number(m[1]);
}

/** Resolves once the primary has forked more than `before` times; gives up when `forked` settles first. */
async function forkCounted(r: Redis, before: number, forked: Promise<void>): Promise<void> {
  let settled = false;
  forked.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled && (await totalForks(r)) <= before) await sleep(1);
}

/** Waits until no order shard has an unfinished checkout transaction. */
async function drain(orders: Redis[], timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A stop while frozen: the caller's finally thaws at once.
    throwIfAborted(signal);
    const left = (await Promise.all(orders.map((r) => r.zcard(ACTIVE_KEY)))).reduce((a, b) => a + b, 0);
    if (left === 0) return;
    if (Date.now() > deadline) {
      throw new SnapshotError(`${left} checkout transaction(s) did not end within ${timeoutMs} ms (parked ones need recovery first; see the console's unfinished list): nothing was taken`);
    }
    await sleep(2);
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
