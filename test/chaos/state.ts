/**
 * Reads the state after a run: through the API (what clients would see) and straight from
 * each group's current Redis primary (holds, in-flight transactions, the order flags that
 * the API does not show), plus the replication check of every Redis group.
 */
import { ACTIVE_KEY, LEASE_PREFIX, ORDER_PREFIX, TX_PREFIX, isTxRecordKey } from '@shop/order/keys.js';
import { USER_PREFIX } from '@shop/payment/keys.js';
import { ITEM_PREFIX } from '@shop/stock/keys.js';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { shardGroupNames } from '@shop/common/shards.js';
import type { Cluster, RedisAddress, ServiceName } from '@shop/launcher/cluster.js';
import { inParallel, type ShopClient } from '@shop/launcher/api.js';
import { CHECKOUT_POLICY, ONCE_POLICY, callUntilDefinite } from './calls.js';
import type { Clock, History, Initial } from './history.js';
import type { Prng } from './prng.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FoundOrder {
  paid: boolean;
  items: [string, number][];
  user_id: string;
  total_cost: number;
}

export interface ApiState {
  /** A string when the order could not be read: its answer. */
  orders: Map<string, FoundOrder | string>;
  stock: Map<string, number | string>;
  credit: Map<string, number | string>;
}

export interface Balance {
  a: number;
  h: number;
}

export interface RedisState {
  activeTx: string[];
  orders: Map<string, { p: string; x: string; u: string }>;
  items: Map<string, Balance>;
  users: Map<string, Balance>;
  /** Transaction ids per order, from the `o` field of every `otx:*` record. */
  txByOrder: Map<string, string[]>;
}

export interface NodeState {
  name: string;
  role: string;
  offset: number;
  keys?: number;
  digest?: string;
}

export interface GroupState {
  /** The Sentinels' master name: `stock`, `stock-s1`. */
  group: string;
  nodes: NodeState[];
  /** Set when the group is not one primary with identical replicas. */
  problem?: string;
}

export function connect(addr: RedisAddress, password: string): Redis {
  const r = new Redis({ host: addr.host, port: addr.port, password, lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 2000, commandTimeout: 10_000 });
  r.on('error', () => undefined);
  return r;
}

async function withRedis<T>(addr: RedisAddress, password: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = connect(addr, password);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function scanKeys(r: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function hashes(r: Redis, keys: string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const p = r.pipeline();
    for (const k of chunk) p.hgetall(k);
    const replies = (await p.exec()) ?? [];
    chunk.forEach((k, j) => {
      const [err, v] = replies[j] ?? [null, {}];
      if (err === null) out.set(k, v as Record<string, string>);
    });
  }
  return out;
}

/** `fn` on the primary of every shard of `service`, in shard order. */
async function onEveryShard<T>(cluster: Cluster, service: ServiceName, fn: (r: Redis) => Promise<T>): Promise<T[]> {
  return Promise.all(shardGroupNames(service, cluster.shards).map(async (g) => withRedis(await cluster.currentPrimary(g), cluster.password, fn)));
}

/** Polls the order primaries until no checkout transaction is unfinished; returns ms waited or undefined on timeout. */
export async function waitQuiescent(cluster: Cluster, timeoutMs: number): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    try {
      const counts = await onEveryShard(cluster, 'order', (r) => r.zcard(ACTIVE_KEY));
      if (counts.every((n) => n === 0)) return Date.now() - start;
    } catch {
      // A primary that is still settling answers on the next poll.
    }
    await sleep(250);
  }
  return undefined;
}

const num = (s: string | undefined): number => (s === undefined ? NaN : Number(s));

/** One map of every shard's entries: a key lives on one shard, wherever the services put it. */
const merged = <K, V>(maps: Map<K, V>[]): Map<K, V> => new Map(maps.flatMap((m) => [...m]));

/** The services' data as the primaries of every shard hold it, shards merged. */
export async function readRedis(cluster: Cluster): Promise<RedisState> {
  const [orderShards, itemShards, userShards] = await Promise.all([
    onEveryShard(cluster, 'order', async (r) => {
      const activeTx = await r.zrange(ACTIVE_KEY, 0, -1);
      const orders = await hashes(r, await scanKeys(r, `${ORDER_PREFIX}*`));
      const txs = await hashes(r, (await scanKeys(r, `${TX_PREFIX}*`)).filter(isTxRecordKey));
      return { activeTx, orders, txs };
    }),
    onEveryShard(cluster, 'stock', async (r) => hashes(r, await scanKeys(r, `${ITEM_PREFIX}*`))),
    onEveryShard(cluster, 'payment', async (r) => hashes(r, await scanKeys(r, `${USER_PREFIX}*`))),
  ]);
  const orderSide = {
    activeTx: orderShards.flatMap((s) => s.activeTx),
    orders: merged(orderShards.map((s) => s.orders)),
    txs: merged(orderShards.map((s) => s.txs)),
  };
  const items = merged(itemShards);
  const users = merged(userShards);
  const txByOrder = new Map<string, string[]>();
  for (const [key, h] of orderSide.txs) {
    const o = h.o;
    if (o === undefined) continue;
    txByOrder.set(o, [...(txByOrder.get(o) ?? []), key.slice(TX_PREFIX.length)]);
  }
  const balances = (m: Map<string, Record<string, string>>, prefix: string): Map<string, Balance> =>
    new Map([...m].map(([k, h]) => [k.slice(prefix.length), { a: num(h.a), h: num(h.h ?? '0') }]));
  return {
    activeTx: orderSide.activeTx,
    orders: new Map([...orderSide.orders].map(([k, h]) => [k.slice(ORDER_PREFIX.length), { p: h.p ?? '', x: h.x ?? '', u: h.u ?? '' }])),
    items: balances(items, ITEM_PREFIX),
    users: balances(users, USER_PREFIX),
    txByOrder,
  };
}

export async function readApi(
  api: ShopClient,
  history: History,
  initial: Initial,
  clock: Clock,
  rng: Prng,
  stopping: () => boolean = () => false,
): Promise<ApiState> {
  // Once one read found no definite answer the system is broken: read the rest once each,
  // so that a broken run ends with its report in minutes, not after hours of retries.
  let broken = false;
  const read = async (path: string): Promise<Record<string, unknown> | string> => {
    if (stopping()) return 'not read: run aborted';
    const r = await callUntilDefinite(api, 'GET', path, broken ? ONCE_POLICY : CHECKOUT_POLICY, clock, rng);
    if (r.final === undefined) broken = true;
    if (r.final?.status === 200 && r.body !== undefined) return r.body;
    return r.final === undefined ? 'no definite answer' : `${r.final.status} ${r.final.code ?? ''}`;
  };
  const orders = new Map<string, FoundOrder | string>();
  const stock = new Map<string, number | string>();
  const credit = new Map<string, number | string>();
  await inParallel(32, [
    ...[...history.orders.keys()].map((id) => async () => {
      const b = await read(`/orders/find/${id}`);
      orders.set(id, typeof b === 'string' ? b : (b as unknown as FoundOrder));
    }),
    ...[...initial.items.keys()].map((id) => async () => {
      const b = await read(`/stock/find/${id}`);
      stock.set(id, typeof b === 'string' ? b : Number(b.stock));
    }),
    ...[...initial.users.keys()].map((id) => async () => {
      const b = await read(`/payment/find_user/${id}`);
      credit.set(id, typeof b === 'string' ? b : Number(b.credit));
    }),
  ]);
  return { orders, stock, credit };
}

function field(info: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m?.[1]?.trim();
}

/** A digest of the data a group holds, leaving out recovery leases (they expire on their own clock). */
async function digest(r: Redis): Promise<{ keys: number; digest: string }> {
  const keys = (await scanKeys(r, '*')).filter((k) => !k.startsWith(LEASE_PREFIX)).sort();
  const hash = createHash('sha256');
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const types = ((await r.pipeline(chunk.map((k) => ['type', k])).exec()) ?? []).map(([, t]) => String(t));
    const p = r.pipeline();
    chunk.forEach((k, j) => {
      const t = types[j];
      if (t === 'hash') p.hgetall(k);
      else if (t === 'zset') p.zrange(k, 0, -1, 'WITHSCORES');
      else if (t === 'string') p.get(k);
      else if (t === 'set') p.smembers(k);
      else if (t === 'list') p.lrange(k, 0, -1);
      else p.echo(`type ${t}`);
    });
    const values = (await p.exec()) ?? [];
    chunk.forEach((k, j) => {
      const v: unknown = values[j]?.[1];
      const canonical =
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.entries(v as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          : types[j] === 'set' && Array.isArray(v)
            ? [...(v as string[])].sort()
            : v;
      hash.update(`${k}\u0000${JSON.stringify(canonical)}\u0000`);
    });
  }
  return { keys: keys.length, digest: hash.digest('hex').slice(0, 16) };
}

async function nodeState(addr: RedisAddress, password: string): Promise<NodeState> {
  try {
    return await withRedis(addr, password, async (r) => {
      const info = await r.info('replication');
      return { name: addr.name, role: field(info, 'role') ?? '?', offset: Number(field(info, 'master_repl_offset') ?? NaN) };
    });
  } catch (err) {
    return { name: addr.name, role: `unreachable: ${(err as Error).message}`, offset: NaN };
  }
}

/**
 * Every group must settle to one primary whose replicas, once caught up, hold the same data.
 * Waits up to `timeoutMs` for roles and offsets to converge: a restarted primary may briefly
 * run as master before the Sentinels demote it.
 */
export async function checkReplication(cluster: Cluster, timeoutMs: number): Promise<GroupState[]> {
  return Promise.all(
    Object.entries(cluster.groups).map(async ([group, addrs]) => {
      const deadline = Date.now() + timeoutMs;
      let nodes: NodeState[] = [];
      let problem: string | undefined;
      // A write landing between two nodes' digests (a late lease, a replication ping) makes
      // them differ for a moment: converge and compare again before calling it a violation.
      for (let round = 0; round < 3; round++) {
        for (;;) {
          nodes = await Promise.all(addrs.map((a) => nodeState(a, cluster.password)));
          const masters = nodes.filter((n) => n.role === 'master');
          const offsets = new Set(nodes.map((n) => n.offset));
          problem =
            masters.length !== 1
              ? `${masters.length} primaries: ${nodes.map((n) => `${n.name}=${n.role}`).join(', ')}`
              : offsets.size !== 1
                ? `replication offsets differ: ${nodes.map((n) => `${n.name}=${n.offset}`).join(', ')}`
                : undefined;
          if (problem === undefined || Date.now() > deadline) break;
          await sleep(250);
        }
        if (problem !== undefined) return { group, nodes, problem };
        await Promise.all(
          nodes.map(async (n, i) => {
            const addr = addrs[i];
            if (addr !== undefined) Object.assign(n, await withRedis(addr, cluster.password, digest));
          }),
        );
        const digests = new Set(nodes.map((n) => n.digest));
        problem =
          digests.size === 1
            ? undefined
            : `replicas hold different data: ${nodes.map((n) => `${n.name} keys=${n.keys} digest=${n.digest}`).join(', ')}`;
        if (problem === undefined) break;
      }
      return { group, nodes, ...(problem !== undefined ? { problem } : {}) };
    }),
  );
}
