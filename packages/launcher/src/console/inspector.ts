/**
 * The transaction inspector: an order's checkout transactions as the three Redis groups
 * hold them, read with plain read-only commands (HGETALL, HMGET, GET, TTL, ZSCORE, ...),
 * never through the services and never writing. Answers "why was my checkout refused?"
 * (the decision and its reason, with the stock and credit it was decided against as they
 * stand now) and "is anything stuck?" (the unfinished transactions, oldest first).
 *
 * Key schemas: packages/order/src/keys.ts, packages/stock/src/keys.ts, packages/payment/src/keys.ts.
 */
import type { Redis } from 'ioredis';
import type { ServiceName } from '@shop/common/config.js';
import { TX_RECORD_TTL_S } from '@shop/common/ledger/store.js';
import { groupByShard, shardGroupName, shardGroupNames, shardIndex } from '@shop/common/shards.js';
import { ACTIVE_KEY, PARKED_KEY, leaseKey, orderKey, txKey } from '@shop/order/keys.js';
import { FINISHED_TTL_S, decodeOrder, parseLines } from '@shop/order/store.js';
import { RETRY_IN_ORDER } from '@shop/order/checkout.js';
import { STOCK_TX_PREFIX, itemKey } from '@shop/stock/keys.js';
import { PAYMENT_TX_PREFIX, userKey } from '@shop/payment/keys.js';

export type ParticipantState = 'reserved' | 'committed' | 'aborted' | 'none';

export interface ParticipantView {
  /** T's record there: reserved (holding), committed, aborted (holds returned), or none (never reached). */
  state: ParticipantState;
  /** When T last stepped there (ms), from the record's TTL, which each step sets afresh. */
  lastStepAt: number | null;
  /** The ledger entries T's step names, with their amounts now. */
  entries: { id: string; amount: number; exists: boolean; available: number | null; held: number | null }[];
}

export interface Step {
  at: number | null;
  what: string;
}

export interface TransactionView {
  id: string;
  current: boolean;
  exists: boolean;
  userId: string;
  amount: number;
  lines: [string, number][];
  startedAt: number | null;
  decision: 'commit' | 'abort' | '';
  reason: string;
  decidedAt: number | null;
  /** Still in the unfinished set. */
  unfinished: boolean;
  /** When recovery may take it up next (its score in the unfinished set). */
  recoverAfter: number | null;
  failures: number;
  parked: boolean;
  /** The order replica recovering it now, if any. */
  recoveredBy: string | null;
  finishedAt: number | null;
  stock: ParticipantView;
  payment: ParticipantView;
  steps: Step[];
  /** One sentence: what happened, or what it waits for. */
  verdict: string;
}

export interface OrderView {
  orderId: string;
  exists: boolean;
  order?: { userId: string; totalCost: number; paid: boolean; items: [string, number][]; inCheckout: string };
  transactions: TransactionView[];
  /** Transactions older than the order's kept history (field h) are not listed. */
  note?: string;
}

export interface UnfinishedView {
  total: number;
  parked: number;
  transactions: { id: string; orderId: string | null; startedAt: number | null; recoverAfter: number; decision: string; reason: string; failures: number; parked: boolean; recoveredBy: string | null }[];
}

/** The connection to read a group (`stock`, `stock-s1`) from: its primary, as the console last saw it. */
export type ReaderOf = (group: string) => Redis;

const STATES: Record<string, ParticipantState> = { r: 'reserved', c: 'committed', a: 'aborted' };

const num = (v: string | null | undefined): number | null => (v === null || v === undefined || v === '' ? null : Number(v));

export class Inspector {
  /** `shards`: of each service's data (docs/sharding.md); an entity is read on its own shard. */
  constructor(
    private readonly reader: ReaderOf,
    private readonly shards = 1,
  ) {}

  /** The primary of the shard holding `id` of `service`. */
  private shardOf(service: ServiceName, id: string): Redis {
    return this.reader(shardGroupName(service, shardIndex(id, this.shards)));
  }

  private orderShards(): Redis[] {
    return shardGroupNames('order', this.shards).map((group) => this.reader(group));
  }

  async order(orderId: string): Promise<OrderView> {
    const orders = this.shardOf('order', orderId);
    const fields = await orders.hgetall(orderKey(orderId));
    const decoded = decodeOrder(orderId, fields);
    if (decoded === undefined) return { orderId, exists: false, transactions: [] };
    const ids = (fields.h ?? '').split(' ').filter((id) => id !== '');
    // An order checked out before transactions were listed on it still names its current one.
    if (decoded.inCheckout !== '' && !ids.includes(decoded.inCheckout)) ids.push(decoded.inCheckout);
    const transactions = await Promise.all(ids.map((id) => this.transaction(id, id === decoded.inCheckout, orders)));
    const { order } = decoded;
    return {
      orderId,
      exists: true,
      order: { userId: order.user_id, totalCost: order.total_cost, paid: order.paid, items: order.items, inCheckout: decoded.inCheckout },
      transactions: transactions.reverse(),
      ...(fields.h === undefined && ids.length === 0 && order.paid
        ? { note: 'paid before checkouts were listed on the order: its transaction is not known here' }
        : {}),
    };
  }

  /** `orders`: the order shard holding T, when known; else every order shard is asked. */
  async transaction(txId: string, current = false, known?: Redis): Promise<TransactionView> {
    const orders = known ?? (await this.shardHolding(txId));
    const now = Date.now();
    const [record, ttl, score, parked, lease] = (await orders
      .multi()
      .hgetall(txKey(txId))
      .pttl(txKey(txId))
      .zscore(ACTIVE_KEY, txId)
      .sismember(PARKED_KEY, txId)
      .get(leaseKey(txId))
      .exec())!.map(([err, v]) => (err === null ? v : null)) as [Record<string, string> | null, number | null, string | null, number | null, string | null];
    const r = record ?? {};
    const lines = parseLines(r.i ?? '');
    const userId = r.u ?? '';
    const amount = Number(r.a ?? 0);
    const [stock, payment] = await Promise.all([
      this.participant('stock', STOCK_TX_PREFIX + txId, lines.map(([item, qty]) => [item, itemKey(item), qty] as const), now),
      this.participant('payment', PAYMENT_TX_PREFIX + txId, userId === '' ? [] : [[userId, userKey(userId), amount] as const], now),
    ]);
    const unfinished = score !== null;
    const decision = (r.d ?? '') as TransactionView['decision'];
    // Retiring sets the record's TTL afresh: what is left of it tells when.
    const finishedAt = !unfinished && decision !== '' && ttl !== null && ttl > 0 ? now - (FINISHED_TTL_S * 1000 - ttl) : null;
    const view: TransactionView = {
      id: txId,
      current,
      exists: record !== null && r.o !== undefined,
      userId,
      amount,
      lines,
      startedAt: num(r.s),
      decision,
      reason: r.r ?? '',
      decidedAt: num(r.t),
      unfinished,
      recoverAfter: num(score),
      failures: Number(r.f ?? 0),
      parked: parked === 1,
      recoveredBy: lease,
      finishedAt,
      stock,
      payment,
      steps: [],
      verdict: '',
    };
    view.steps = steps(view);
    view.verdict = verdict(view, now);
    return view;
  }

  /** T's order shard: the one holding its record (shard 0 when none does). */
  private async shardHolding(txId: string): Promise<Redis> {
    const shards = this.orderShards();
    if (shards.length === 1) return shards[0]!;
    const found = await Promise.all(shards.map((r) => r.exists(txKey(txId))));
    return shards[found.findIndex((n) => n === 1)] ?? shards[0]!;
  }

  /**
   * T at a participant: on each shard its entries live on, T's record there and the entries.
   * Parts in different states (a step across shards caught midway) show the one still to
   * settle: reserved, else aborted, else committed.
   */
  private async participant(
    service: 'stock' | 'payment',
    recordKey: string,
    entries: readonly (readonly [id: string, key: string, amount: number])[],
    now: number,
  ): Promise<ParticipantView> {
    const byShard = groupByShard(entries, ([id]) => id, this.shards);
    if (byShard.size === 0) byShard.set(0, []);
    const parts = await Promise.all(
      [...byShard].map(([k, list]) => this.participantPart(this.reader(shardGroupName(service, k)), recordKey, list, now)),
    );
    const states = new Set(parts.map((p) => p.state));
    const state = states.size === 1 ? parts[0]!.state : (['reserved', 'aborted', 'committed', 'none'] as const).find((x) => states.has(x))!;
    const at = parts.map((p) => p.lastStepAt).filter((t): t is number => t !== null);
    const viewed = new Map(parts.flatMap((p) => p.entries.map((e) => [e.id, e] as const)));
    return {
      state,
      lastStepAt: at.length > 0 ? Math.max(...at) : null,
      entries: entries.map(([id]) => viewed.get(id)!),
    };
  }

  private async participantPart(
    redis: Redis,
    recordKey: string,
    entries: readonly (readonly [id: string, key: string, amount: number])[],
    now: number,
  ): Promise<ParticipantView> {
    const p = redis.pipeline().get(recordKey).pttl(recordKey);
    for (const [, key] of entries) p.hmget(key, 'a', 'h');
    const replies = (await p.exec())!;
    let raw = replies[0]?.[0] === null ? (replies[0][1] as string | null) : null;
    // A record written before records became strings is a hash with field s (tx_record.lua).
    if (replies[0]?.[0] !== null) raw = await redis.hget(recordKey, 's');
    const ttl = replies[1]?.[0] === null ? (replies[1][1] as number) : -2;
    return {
      state: raw === null ? 'none' : (STATES[raw] ?? 'none'),
      lastStepAt: raw !== null && ttl > 0 ? now - (TX_RECORD_TTL_S * 1000 - ttl) : null,
      entries: entries.map(([id, , amount], i) => {
        const [available, held] = (replies[i + 2]?.[1] ?? [null, null]) as (string | null)[];
        return { id, amount, exists: available !== null && available !== undefined, available: num(available), held: num(held) };
      }),
    };
  }

  /** The unfinished transactions of every order shard, oldest first (at most `limit`), and how many there are. */
  async unfinished(limit = 100): Promise<UnfinishedView> {
    const shards = await Promise.all(this.orderShards().map((r) => this.unfinishedOn(r, limit)));
    return {
      total: shards.reduce((n, v) => n + v.total, 0),
      parked: shards.reduce((n, v) => n + v.parked, 0),
      transactions: shards
        .flatMap((v) => v.transactions)
        .sort((a, b) => a.recoverAfter - b.recoverAfter)
        .slice(0, limit),
    };
  }

  private async unfinishedOn(orders: Redis, limit: number): Promise<UnfinishedView> {
    const [[, total], [, parkedCount], [, page]] = (await orders.multi().zcard(ACTIVE_KEY).scard(PARKED_KEY).zrange(ACTIVE_KEY, 0, limit - 1, 'WITHSCORES').exec())! as [
      [unknown, number],
      [unknown, number],
      [unknown, string[]],
    ];
    const ids: [string, number][] = [];
    for (let i = 0; i + 1 < page.length; i += 2) ids.push([page[i]!, Number(page[i + 1])]);
    const p = orders.pipeline();
    for (const [id] of ids) p.hmget(txKey(id), 'o', 'd', 'r', 'f', 's').sismember(PARKED_KEY, id).get(leaseKey(id));
    const replies = ids.length > 0 ? (await p.exec())! : [];
    return {
      total,
      parked: parkedCount,
      transactions: ids.map(([id, score], k) => {
        const [o, d, r, f, s] = (replies[3 * k]?.[1] ?? []) as (string | null)[];
        return {
          id,
          orderId: o ?? null,
          startedAt: num(s),
          recoverAfter: score,
          decision: d ?? '',
          reason: r ?? '',
          failures: Number(f ?? 0),
          parked: replies[3 * k + 1]?.[1] === 1,
          recoveredBy: (replies[3 * k + 2]?.[1] as string | null) ?? null,
        };
      }),
    };
  }
}

/**
 * In protocol order rather than by time: the participants' times come from their records'
 * TTLs, a few ms off, and each record keeps only its last state. A hold still in place was
 * made before the decision; a commit or abort there was applied after it.
 */
function steps(v: TransactionView): Step[] {
  const out: Step[] = [{ at: v.startedAt, what: `begun: user ${v.userId}, total ${v.amount}, ${v.lines.length} line(s)` }];
  const participants = [
    ['stock', v.stock],
    ['payment', v.payment],
  ] as const;
  for (const [name, p] of participants) if (p.state === 'reserved') out.push({ at: p.lastStepAt, what: `${name}: holds (reserved)` });
  if (v.decision !== '') out.push({ at: v.decidedAt, what: v.decision === 'commit' ? 'decided: commit (order paid)' : `decided: abort, ${v.reason || 'no reason'}` });
  for (const [name, p] of participants) if (p.state === 'committed' || p.state === 'aborted') out.push({ at: p.lastStepAt, what: `${name}: ${p.state}` });
  if (v.finishedAt !== null) out.push({ at: v.finishedAt, what: 'finished (retired)' });
  return out;
}

function shortfall(p: ParticipantView, what: string): string {
  const short = p.entries.filter((e) => !e.exists || (e.available ?? 0) < e.amount);
  if (short.length === 0) return '';
  return (
    ' Now: ' +
    short.map((e) => (e.exists ? `${what} ${e.id} has ${e.available} available (${e.held ?? 0} held by undecided checkouts), needs ${e.amount}` : `${what} ${e.id} does not exist`)).join('; ') +
    '.'
  );
}

function verdict(v: TransactionView, now: number): string {
  if (!v.exists) return 'No record: expired (kept 7 days after it finished) or never written.';
  const age = v.startedAt === null ? '' : ` (begun ${Math.round((now - v.startedAt) / 1000)} s ago)`;
  if (v.decision === 'commit') {
    if (v.unfinished) return `Committed: the order is paid; the participants' holds are still being made final${v.recoveredBy ? ` by ${v.recoveredBy}` : ''}.`;
    return 'Committed: the order is paid and the stock and credit taken.';
  }
  if (v.decision === 'abort') {
    const tail = v.unfinished ? ' Holds are still being returned.' : ' Every hold was returned.';
    switch (v.reason) {
      case RETRY_IN_ORDER:
        return `Not refused: stock was busy while payment held, so this attempt was dropped and the order checked out again as a new transaction.${tail}`;
      case 'OUT_OF_STOCK':
        return `Refused: OUT_OF_STOCK, stock lacked an item.${tail}${shortfall(v.stock, 'item')}`;
      case 'INSUFFICIENT_CREDIT':
        return `Refused: INSUFFICIENT_CREDIT, the user's credit was less than the total.${tail}${shortfall(v.payment, 'user')}`;
      case 'UNKNOWN_ITEM':
      case 'UNKNOWN_USER':
        return `Refused: ${v.reason}.${tail}${shortfall(v.reason === 'UNKNOWN_ITEM' ? v.stock : v.payment, v.reason === 'UNKNOWN_ITEM' ? 'item' : 'user')}`;
      case 'ORDER_REPLACED':
        return `Refused: ORDER_REPLACED, the order was re-created (batch_init) while it was checked out.${tail}`;
      default:
        return `Refused: ${v.reason || 'no reason recorded'}.${tail}`;
    }
  }
  if (v.parked) return `Stuck: undecided and parked after ${v.failures} failed recovery attempts${age}; see the order replicas' logs.`;
  if (v.recoveredBy !== null) return `Undecided: being recovered by ${v.recoveredBy}${age}.`;
  const waiting = v.stock.state === 'reserved' ? (v.payment.state === 'reserved' ? 'both hold; the decision is being recorded' : 'stock holds; waiting for payment') : 'waiting for stock';
  return `Undecided, in progress: ${waiting}${age}${v.failures > 0 ? `, ${v.failures} failed recovery attempt(s)` : ''}.`;
}
