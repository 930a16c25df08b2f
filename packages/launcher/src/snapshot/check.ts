/**
 * Checks one group's copy in a scratch redis-server of its own (loopback, no password, no
 * persistence but the one SAVE at the end) and returns it cleaned:
 *
 *   - the cut holds no unfinished checkout: the order shard's unfinished set is empty, no
 *     ledger entry holds anything, and no participant record is still "reserved";
 *   - what belongs to the running cluster, not to the shop, is dropped: the promotable set
 *     and guard lease (node ids of this cluster), the write barrier, recovery leases and the
 *     freeze. A restored cluster builds its own.
 *
 * The copy is loaded from the bytes received, so a copy that does not load is caught here,
 * before any file is written.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { ServiceName } from '@shop/common/config.js';
import { portFree, sleep } from '@shop/common/probes.js';
import { BARRIER_KEY, GUARD_LEASE_KEY, PROMOTABLE_KEY } from '@shop/common/replication/promotable.js';
import { ACTIVE_KEY, FREEZE_KEY, LEASE_PREFIX, ORDER_PREFIX, isTxRecordKey } from '@shop/order/keys.js';
import { PAYMENT_TX_PREFIX, USER_PREFIX } from '@shop/payment/keys.js';
import { ITEM_PREFIX, STOCK_TX_PREFIX } from '@shop/stock/keys.js';
import { CUT_MARK_KEY } from './cut-mark.js';
import { RetryableSnapshotError, SnapshotError } from './errors.js';

export interface CopyCounts {
  keys: number;
  /** Order shards. */
  orders?: number;
  paid?: number;
  transactions?: number;
  committed?: number;
  aborted?: number;
  /** Ledger shards (items or users), and the sum of their available amounts. */
  entries?: number;
  available?: number;
}

const LEDGER: Record<'stock' | 'payment', { entries: string; records: string }> = {
  stock: { entries: ITEM_PREFIX, records: STOCK_TX_PREFIX },
  payment: { entries: USER_PREFIX, records: PAYMENT_TX_PREFIX },
};

/**
 * Checks one group's copy and strips the running cluster's keys from it. `cutToken`: the
 * snapshot's cut mark (cut-mark.ts), which the copy must hold.
 */
export async function checkCopy(rdb: Buffer, service: ServiceName, redisServer: string, cutToken: string, signal?: AbortSignal): Promise<{ rdb: Buffer; counts: CopyCounts }> {
  return withScratchServer(
    rdb,
    redisServer,
    async (r) => {
      if ((await r.get(CUT_MARK_KEY)) !== cutToken) {
        throw new RetryableSnapshotError(`the ${service} copy was forked after the cut was released (its primary forked late): nothing was written; take it again`);
      }
      await r.del(PROMOTABLE_KEY, GUARD_LEASE_KEY, BARRIER_KEY, FREEZE_KEY, CUT_MARK_KEY);
      for (const key of await keys(r, `${LEASE_PREFIX}*`)) await r.del(key);
      const counts = service === 'order' ? await checkOrders(r) : await checkLedger(r, LEDGER[service]);
      counts.keys = await r.dbsize();
      return counts;
    },
    signal,
  );
}

async function checkOrders(r: Redis): Promise<CopyCounts> {
  const unfinished = await r.zcard(ACTIVE_KEY);
  if (unfinished > 0) throw new SnapshotError(`the cut holds ${unfinished} unfinished checkout transaction(s): not a consistent cut`);
  const orderKeys = await keys(r, `${ORDER_PREFIX}*`);
  const paidFlags = await pipelined(r, orderKeys, (p, k) => p.hget(k, 'p'));
  const records = (await keys(r, 'otx:*')).filter(isTxRecordKey);
  const decisions = await pipelined(r, records, (p, k) => p.hget(k, 'd'));
  const undecided = decisions.filter((d) => d !== 'commit' && d !== 'abort').length;
  if (undecided > 0) throw new SnapshotError(`the cut holds ${undecided} undecided checkout transaction record(s)`);
  return {
    keys: 0,
    orders: orderKeys.length,
    paid: paidFlags.filter((p) => p === '1').length,
    transactions: records.length,
    committed: decisions.filter((d) => d === 'commit').length,
    aborted: decisions.filter((d) => d === 'abort').length,
  };
}

async function checkLedger(r: Redis, schema: { entries: string; records: string }): Promise<CopyCounts> {
  const entries = await keys(r, `${schema.entries}*`);
  const amounts = await pipelined(r, entries, (p, k) => p.hmget(k, 'a', 'h'));
  let available = 0;
  let held = 0;
  for (const [a, h] of amounts as [string | null, string | null][]) {
    available += Number(a ?? 0);
    held += Number(h ?? 0);
  }
  if (held !== 0) throw new SnapshotError(`the cut holds ${held} units held by undecided checkouts`);
  const records = await keys(r, `${schema.records}*`);
  // A record written before records became strings is a hash (tx_record.lua): read its field.
  const states = await pipelined(r, records, (p, k) => p.eval("local ok, v = pcall(redis.call, 'GET', KEYS[1]) if ok then return v end return redis.call('HGET', KEYS[1], 's')", 1, k));
  const reserved = states.filter((s) => s === 'r').length;
  if (reserved > 0) throw new SnapshotError(`the cut holds ${reserved} reservation(s) of undecided checkouts`);
  return { keys: 0, entries: entries.length, available };
}

async function keys(r: Redis, match: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', match, 'COUNT', 5000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function pipelined(r: Redis, keyList: string[], call: (p: ReturnType<Redis['pipeline']>, key: string) => unknown): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < keyList.length; i += 5000) {
    const p = r.pipeline();
    for (const k of keyList.slice(i, i + 5000)) call(p, k);
    for (const [err, v] of (await p.exec()) ?? []) {
      if (err) throw err;
      out.push(v);
    }
  }
  return out;
}

/**
 * Loads `rdb` into a throwaway server, runs `fn`, and returns the data as SAVEd after it.
 * `signal` kills the server at once (a check of a large copy takes tens of seconds, longer
 * than a container's stop grace): `fn` then fails on its connection.
 */
export async function withScratchServer<T>(rdb: Buffer, redisServer: string, fn: (r: Redis) => Promise<T>, signal?: AbortSignal): Promise<{ rdb: Buffer; counts: T }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-snapshot-check-'));
  fs.writeFileSync(path.join(dir, 'dump.rdb'), rdb);
  const port = await freePort();
  const child = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  // The check runs beside the shop it copied, often on the same cores: it yields to it.
  if (child.pid !== undefined) setLowPriority(child.pid);
  const stop = (): void => void child.kill('SIGKILL');
  if (signal?.aborted === true) stop();
  signal?.addEventListener('abort', stop, { once: true });
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  r.on('error', () => undefined);
  try {
    for (let i = 0; ; i++) {
      // LOADING until the whole file is read; a file it cannot read ends the process.
      const up = await r.ping().then(
        () => true,
        () => false,
      );
      if (up) break;
      if (child.exitCode !== null || i > 600) throw new SnapshotError(`a copy did not load in a scratch redis-server (exit ${child.exitCode})`);
      await sleep(50);
    }
    const counts = await fn(r);
    await r.save();
    return { rdb: fs.readFileSync(path.join(dir, 'dump.rdb')), counts };
  } finally {
    signal?.removeEventListener('abort', stop);
    r.disconnect();
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 40_000 + Math.floor(Math.random() * 20_000);
    if (await portFree(p)) return p;
  }
  throw new SnapshotError('no free loopback port for checking a copy');
}

/** Lowest CPU priority for a helper process of the snapshot (best effort: not every system lets us). */
export function setLowPriority(pid: number): void {
  try {
    os.setPriority(pid, 19);
  } catch {
    // Left at normal priority: slower for the shop, not wrong.
  }
}
