import type { Redis } from 'ioredis';
import { callScript, defineScripts, packageLuaDir } from '@shop/common/lua.js';
import { batchedCall, batchedScript } from '@shop/common/pipeline.js';
import type { BatchObserver } from '@shop/common/batcher.js';
import { MAX_STEP_LINES, mergeLines, type Line } from '@shop/common/ledger/protocol.js';
import { execOrThrow, retryTransient, type DurableWriter } from '@shop/common/redis.js';
import { decodeAddItem, decodeBeginKind, decodeDecision, type AddItemResult } from './outcomes.js';
import { ACTIVE_KEY, FREEZE_KEY, LEGACY_LINES_FIELD, LINE_PREFIX, PARKED_KEY, leaseKey, lineField, orderKey, txKey } from './keys.js';
import { BARRIER_KEY } from '@shop/common/replication/promotable.js';

/** The order service's Redis: key schema in keys.ts. */
const SCRIPTS = ['add_item', 'checkout_begin', 'checkout_decide', 'checkout_finish', 'checkout_defer'] as const;
/** Decided transactions stay readable this long, for late retries and audits. */
export const FINISHED_TTL_S = 7 * 24 * 3600;

export { ACTIVE_KEY, PARKED_KEY, orderKey, txKey };

export type { AddItemResult };

export interface Order {
  order_id: string;
  paid: boolean;
  items: Line[];
  user_id: string;
  total_cost: number;
}

export type Decision = 'commit' | 'abort';

/** An order as batch_init writes it. */
export interface NewOrder {
  userId: string;
  lines: Line[];
  total: number;
}

/** A checkout transaction as recorded at begin. */
export interface TxRecord {
  id: string;
  orderId: string;
  userId: string;
  amount: number;
  lines: Line[];
  decision: Decision | '';
  reason: string;
}

export type BeginResult = { kind: 'PAID' } | { kind: 'NO_ORDER' } | { kind: 'EMPTY' } | { kind: 'FROZEN' } | { kind: 'TX'; tx: TxRecord };

/**
 * Most distinct items in one order. A checkout reserves every line in one script at stock,
 * which takes at most MAX_STEP_LINES entries: an order that could never be checked out is
 * refused while it is built.
 */
export const MAX_ORDER_LINES = MAX_STEP_LINES;

export function parseLines(text: string): Line[] {
  const lines: Line[] = [];
  for (const row of text.split('\n')) {
    if (row === '') continue;
    const space = row.indexOf(' ');
    lines.push([row.slice(0, space), Number(row.slice(space + 1))]);
  }
  return lines;
}

/**
 * An order from its hash (HGETALL) and the checkout transaction it is in ('' if none), or
 * undefined when it does not exist. Tools that read the data use it too.
 */
export function decodeOrder(orderId: string, fields: Record<string, string>): { order: Order; inCheckout: string } | undefined {
  if (fields.u === undefined) return undefined;
  // An earlier version's order keeps its lines as text: merged with any added since.
  const lines: Line[] = parseLines(fields[LEGACY_LINES_FIELD] ?? '');
  for (const [name, value] of Object.entries(fields)) {
    if (name.startsWith(LINE_PREFIX)) lines.push([name.slice(LINE_PREFIX.length), Number(value)]);
  }
  const items = fields[LEGACY_LINES_FIELD] ? mergeLines(lines) : lines;
  return { order: { order_id: orderId, paid: fields.p === '1', items, user_id: fields.u, total_cost: Number(fields.t) }, inCheckout: fields.x ?? '' };
}

export class OrderStore {
  /** Checkouts begun and decided in the same event-loop turn share one pipeline and one WAIT. */
  private readonly beginScript: (call: { orderId: string; txId: string; now: number }) => Promise<string[]>;
  private readonly decideScript: (call: { tx: TxRecord; decision: Decision; reason: string }) => Promise<[string, string]>;
  /** Transactions retired in the same turn share one script call (and no WAIT: see `finish`). */
  private readonly finishScript: (txId: string) => Promise<unknown>;

  constructor(
    readonly redis: Redis,
    readonly writer: DurableWriter,
    observeBatch?: BatchObserver,
  ) {
    defineScripts(redis, packageLuaDir(import.meta.url), SCRIPTS);
    this.beginScript = batchedScript(redis, writer, 'checkout_begin', ({ orderId, txId, now }) => ({
      keys: [orderKey(orderId), txKey(txId), ACTIVE_KEY, FREEZE_KEY],
      args: [txId, now, orderId],
    }), observeBatch);
    this.decideScript = batchedScript(redis, writer, 'checkout_decide', ({ tx, decision, reason }) => ({
      keys: [txKey(tx.id), orderKey(tx.orderId)],
      args: [decision, reason, tx.id, Date.now()],
    }), observeBatch);
    this.finishScript = batchedCall(redis, 'checkout_finish', (txIds: readonly string[]) => ({
      keys: [ACTIVE_KEY, PARKED_KEY, ...txIds.map(txKey)],
      args: [FINISHED_TTL_S, ...txIds],
    }), observeBatch);
  }

  async create(orderId: string, userId: string): Promise<void> {
    await this.writer.idempotent(() => this.redis.hset(orderKey(orderId), 'u', userId, 't', 0, 'p', 0, 'x', '', 'n', 0));
  }

  async find(orderId: string): Promise<Order | undefined> {
    return decodeOrder(orderId, await retryTransient(() => this.redis.hgetall(orderKey(orderId))))?.order;
  }

  /** Not idempotent (it adds), so never replayed: an unknown outcome is a 503. */
  async addItem(orderId: string, itemId: string, quantity: number, cost: number): Promise<AddItemResult> {
    const reply = await this.writer.once(() =>
      callScript<Promise<unknown>>(
        this.redis,
        'add_item',
        [orderKey(orderId)],
        [itemId, String(quantity), String(cost), MAX_ORDER_LINES],
      ),
    );
    return decodeAddItem(reply);
  }

  /**
   * batch_init: overwrites these orders entirely (any checkout in progress loses them).
   * Each chunk is one MULTI, so no reader ever sees an order deleted but not yet re-created.
   */
  async putMany(orders: readonly [id: string, order: NewOrder][]): Promise<void> {
    await this.writer.idempotent(async () => {
      for (let start = 0; start < orders.length; start += 5_000) {
        const multi = this.redis.multi();
        for (const [id, o] of orders.slice(start, start + 5_000)) {
          const lines = mergeLines(o.lines);
          const key = orderKey(id);
          multi.del(key).hset(key, 'u', o.userId, 't', o.total, 'p', 0, 'x', '', 'n', lines.length, ...lines.flatMap(([item, qty]) => [lineField(item), qty]));
        }
        await execOrThrow(multi);
      }
    }, 60_000);
  }

  /** Opens the order's checkout transaction, or finds the one in progress. Idempotent per order. */
  async begin(orderId: string, newTxId: string): Promise<BeginResult> {
    const reply = await this.beginScript({ orderId, txId: newTxId, now: Date.now() });
    const [code, id, user, amount, lines, decision, reason] = reply;
    const kind = decodeBeginKind(code);
    if (kind !== 'TX') return { kind };
    return {
      kind: 'TX',
      tx: {
        id: id!,
        orderId,
        userId: user!,
        amount: Number(amount),
        lines: parseLines(lines!),
        decision: (decision ?? '') as Decision | '',
        reason: reason ?? '',
      },
    };
  }

  /** Records the decision unless one is recorded; returns the decision in force. */
  async decide(tx: TxRecord, decision: Decision, reason: string): Promise<{ decision: Decision; reason: string }> {
    const [d, r] = await this.decideScript({ tx, decision, reason });
    const inForce = decodeDecision(d);
    if (inForce === undefined) throw new Error(`transaction ${tx.id} has no record (${r})`);
    return { decision: inForce, reason: r };
  }

  /**
   * Retires decided transactions whose participants applied the decision, and transactions
   * whose record vanished (recovery found none to drive). No replica needs
   * to confirm this write: if a failover loses it, the transaction is merely unfinished
   * again, and recovery applies its decision once more (idempotent) and retires it.
   */
  async finish(txId: string): Promise<void> {
    await this.finishScript(txId);
  }

  /** Unfinished transactions started (or last deferred to) before `olderThanMs` ago, oldest first. */
  async stale(olderThanMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(ACTIVE_KEY, '-inf', Date.now() - olderThanMs, 'LIMIT', 0, limit);
  }

  /**
   * Puts off recovering a transaction whose attempt failed (see checkout_defer.lua); returns
   * its failures so far (0: finished meanwhile). A lost write only means an earlier retry.
   */
  async defer(txId: string, olderThanMs: number, delay: { firstMs: number; maxMs: number; parkAfter: number }): Promise<number> {
    return callScript<Promise<number>>(
      this.redis,
      'checkout_defer',
      [ACTIVE_KEY, txKey(txId), PARKED_KEY],
      [txId, Date.now() - olderThanMs, delay.firstMs, delay.maxMs, delay.parkAfter],
    );
  }

  /** How many checkout transactions are unfinished. */
  async unfinishedCount(): Promise<number> {
    return this.redis.zcard(ACTIVE_KEY);
  }

  /** How many unfinished transactions are parked (failed recovery many times). */
  async parkedCount(): Promise<number> {
    return this.redis.scard(PARKED_KEY);
  }

  /**
   * A transaction's record, as replicas have it: recovery acts on the decision it reads, so
   * the read is confirmed like a write (a decision read before any replica had it could be
   * lost in a failover after recovery applied it).
   */
  async load(txId: string): Promise<TxRecord | undefined> {
    const [o, u, a, i, d, r] = await this.writer.idempotent(async () => {
      // The barrier write after the read makes the confirming WAIT cover what was read.
      const [record] = await execOrThrow(this.redis.pipeline().hmget(txKey(txId), 'o', 'u', 'a', 'i', 'd', 'r').incr(BARRIER_KEY));
      return record as (string | null)[];
    });
    if (o === null || o === undefined) return undefined;
    return {
      id: txId,
      orderId: o,
      userId: u ?? '',
      amount: Number(a),
      lines: parseLines(i ?? ''),
      decision: (d ?? '') as Decision | '',
      reason: r ?? '',
    };
  }

  /** Takes the recovery lease of a transaction; false when another replica holds it. */
  async lease(txId: string, owner: string, ms: number): Promise<boolean> {
    return (await this.redis.set(leaseKey(txId), owner, 'PX', ms, 'NX')) === 'OK';
  }
}
