/**
 * Reads the final state back, in bulk: straight from each group's current Redis primary when
 * the bench started the cluster (100k entities in about a second), else through the public API.
 */
import { Redis } from 'ioredis';
import { ShopClient, inParallel } from '@shop/launcher/api.js';
import type { Cluster, ServiceName } from '@shop/launcher/cluster.js';
import { ACTIVE_KEY, orderKey } from '@shop/order/keys.js';
import { decodeOrder } from '@shop/order/store.js';
import { USER_PREFIX } from '@shop/payment/keys.js';
import { ITEM_PREFIX } from '@shop/stock/keys.js';
import { readByShard, shardGroupNames } from '@shop/common/shards.js';

export interface Entry {
  available: number;
  /** Held by undecided checkouts; unknown through the API. */
  held: number | undefined;
}

export interface OrderState {
  paid: boolean;
  userId: string;
  total: number;
  lines: [string, number][];
  /** Id of a checkout still in progress ('' when none); unknown through the API. */
  inCheckout: string | undefined;
}

export interface StateReader {
  readonly source: 'redis' | 'api';
  items(ids: string[]): Promise<(Entry | undefined)[]>;
  users(ids: string[]): Promise<(Entry | undefined)[]>;
  orders(ids: string[]): Promise<(OrderState | undefined)[]>;
  /** Checkout transactions not finished yet (order Redis `otx:active`); undefined via the API. */
  unfinished(): Promise<number | undefined>;
  close(): Promise<void>;
}

export function range(first: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(first + i));
}

const CHUNK = 5000;

/** Every shard's primary of every service (docs/sharding.md); each id is read on its own shard. */
class RedisReader implements StateReader {
  readonly source = 'redis';
  private constructor(
    private readonly conns: Record<ServiceName, Redis[]>,
    private readonly shards: number,
  ) {}

  static async open(cluster: Cluster): Promise<RedisReader> {
    const conns = { order: [], stock: [], payment: [] } as Record<ServiceName, Redis[]>;
    for (const g of ['order', 'stock', 'payment'] as const) {
      for (const group of shardGroupNames(g, cluster.shards)) {
        const p = await cluster.currentPrimary(group);
        conns[g].push(new Redis({ host: p.host, port: p.port, password: cluster.password, lazyConnect: false, maxRetriesPerRequest: 3 }));
      }
    }
    return new RedisReader(conns, cluster.shards);
  }

  private hmget(service: ServiceName, prefix: string, ids: string[], fields: string[]): Promise<(string | null)[][]> {
    return readByShard(ids, this.shards, (k, onShard) => hmgetOn(this.conns[service][k]!, onShard.map((id) => prefix + id), fields));
  }

  private async entries(group: ServiceName, prefix: string, ids: string[]): Promise<(Entry | undefined)[]> {
    const rows = await this.hmget(group, prefix, ids, ['a', 'h']);
    return rows.map(([a, h]) => (a === null || a === undefined ? undefined : { available: Number(a), held: Number(h ?? 0) }));
  }

  items(ids: string[]): Promise<(Entry | undefined)[]> {
    return this.entries('stock', ITEM_PREFIX, ids);
  }

  users(ids: string[]): Promise<(Entry | undefined)[]> {
    return this.entries('payment', USER_PREFIX, ids);
  }

  orders(ids: string[]): Promise<(OrderState | undefined)[]> {
    return readByShard(ids, this.shards, (k, onShard) => ordersOn(this.conns.order[k]!, onShard));
  }

  async unfinished(): Promise<number> {
    const counts = await Promise.all(this.conns.order.map((c) => c.zcard(ACTIVE_KEY)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.conns).flat().map((c) => c.quit().then(() => undefined, () => c.disconnect())));
  }
}

async function hmgetOn(redis: Redis, keys: string[], fields: string[]): Promise<(string | null)[][]> {
  const out: (string | null)[][] = [];
  for (let i = 0; i < keys.length; i += CHUNK) {
    const pipe = redis.pipeline();
    for (const k of keys.slice(i, i + CHUNK)) pipe.hmget(k, ...fields);
    for (const [err, reply] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      out.push(reply as (string | null)[]);
    }
  }
  return out;
}

async function ordersOn(redis: Redis, ids: string[]): Promise<(OrderState | undefined)[]> {
  const out: (OrderState | undefined)[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const pipe = redis.pipeline();
    for (const id of chunk) pipe.hgetall(orderKey(id));
    const replies = (await pipe.exec()) ?? [];
    chunk.forEach((id, k) => {
      const [err, fields] = replies[k]!;
      if (err) throw err;
      const o = decodeOrder(id, fields as Record<string, string>);
      out.push(o && { userId: o.order.user_id, total: o.order.total_cost, lines: o.order.items, paid: o.order.paid, inCheckout: o.inCheckout });
    });
  }
  return out;
}

class ApiReader implements StateReader {
  readonly source = 'api';
  private readonly client: ShopClient;
  constructor(url: string) {
    this.client = new ShopClient(url, 32);
  }

  private async many<T>(ids: string[], path: (id: string) => string, map: (body: Record<string, unknown>) => T): Promise<(T | undefined)[]> {
    return inParallel(
      32,
      ids.map((id) => async () => {
        const a = await this.client.get(path(id));
        if (a.status === 400) return undefined;
        if (a.status !== 200) throw new Error(`GET ${path(id)} answered ${a.status}`);
        return map(a.body);
      }),
    );
  }

  items(ids: string[]): Promise<(Entry | undefined)[]> {
    return this.many(ids, (id) => `/stock/find/${id}`, (b) => ({ available: Number(b.stock), held: undefined }));
  }

  users(ids: string[]): Promise<(Entry | undefined)[]> {
    return this.many(ids, (id) => `/payment/find_user/${id}`, (b) => ({ available: Number(b.credit), held: undefined }));
  }

  orders(ids: string[]): Promise<(OrderState | undefined)[]> {
    return this.many(ids, (id) => `/orders/find/${id}`, (b) => ({
      paid: b.paid === true,
      userId: String(b.user_id),
      total: Number(b.total_cost),
      lines: (b.items as [string, number][]).map(([i, q]) => [String(i), Number(q)] as [string, number]),
      inCheckout: undefined,
    }));
  }

  async unfinished(): Promise<undefined> {
    return undefined;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export async function openReader(target: { cluster: Cluster } | { url: string }): Promise<StateReader> {
  return 'cluster' in target ? RedisReader.open(target.cluster) : new ApiReader(target.url);
}
