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

class RedisReader implements StateReader {
  readonly source = 'redis';
  private constructor(private readonly conns: Record<ServiceName, Redis>) {}

  static async open(cluster: Cluster): Promise<RedisReader> {
    const conns = {} as Record<ServiceName, Redis>;
    for (const g of ['order', 'stock', 'payment'] as const) {
      const p = await cluster.currentPrimary(g);
      conns[g] = new Redis({ host: p.host, port: p.port, password: cluster.password, lazyConnect: false, maxRetriesPerRequest: 3 });
    }
    return new RedisReader(conns);
  }

  private async hmget(group: ServiceName, keys: string[], fields: string[]): Promise<(string | null)[][]> {
    const out: (string | null)[][] = [];
    for (let i = 0; i < keys.length; i += CHUNK) {
      const pipe = this.conns[group].pipeline();
      for (const k of keys.slice(i, i + CHUNK)) pipe.hmget(k, ...fields);
      for (const [err, reply] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        out.push(reply as (string | null)[]);
      }
    }
    return out;
  }

  private async entries(group: ServiceName, prefix: string, ids: string[]): Promise<(Entry | undefined)[]> {
    const rows = await this.hmget(group, ids.map((id) => prefix + id), ['a', 'h']);
    return rows.map(([a, h]) => (a === null || a === undefined ? undefined : { available: Number(a), held: Number(h ?? 0) }));
  }

  items(ids: string[]): Promise<(Entry | undefined)[]> {
    return this.entries('stock', ITEM_PREFIX, ids);
  }

  users(ids: string[]): Promise<(Entry | undefined)[]> {
    return this.entries('payment', USER_PREFIX, ids);
  }

  async orders(ids: string[]): Promise<(OrderState | undefined)[]> {
    const out: (OrderState | undefined)[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const pipe = this.conns.order.pipeline();
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

  async unfinished(): Promise<number> {
    return this.conns.order.zcard(ACTIVE_KEY);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.conns).map((c) => c.quit().then(() => undefined, () => c.disconnect())));
  }
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
