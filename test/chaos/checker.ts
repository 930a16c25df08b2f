/**
 * Judges a run: the history of answers against the state after quiescence. Pure, so that a
 * fabricated history can show it catches what it claims to catch.
 */
import type { AddItemRecord, CheckoutRecord, History, Initial } from './history.js';
import type { ApiState, FoundOrder, GroupState, RedisState } from './state.js';

export interface Violation {
  rule: string;
  message: string;
  orderId?: string;
  /** Checkout transactions of that order, from the `otx:*` records. */
  txIds?: string[];
  seed: number;
}

export interface CheckInput {
  seed: number;
  history: History;
  initial: Initial;
  api: ApiState;
  redis: RedisState;
  /** False when `otx:active` did not empty in time. */
  quiescent: boolean;
  /** Only with database faults in layout 'ha'. */
  replication?: GroupState[];
}

/** The refusals a checkout of this workload may legitimately answer. */
const CHECKOUT_REFUSALS = new Set(['OUT_OF_STOCK', 'INSUFFICIENT_CREDIT', 'EMPTY_ORDER', 'UNKNOWN_USER']);
const RACING_REFUSALS = new Set(['ORDER_IN_CHECKOUT', 'ORDER_PAID']);

/** Every sum of a subset of `xs` (the uncertain adds of one item are few). */
function subsetSums(xs: number[]): Set<number> {
  let sums = new Set([0]);
  for (const x of xs) sums = new Set([...sums, ...[...sums].map((s) => s + x)]);
  return sums;
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

function describe(c: CheckoutRecord): string {
  const tries = c.attempts.map((a) => a.indeterminate ?? `${a.status}${a.code !== undefined ? ` ${a.code}` : ''}`).join(', ');
  return `${c.kind} checkout [${tries}] from ${c.attempts[0]?.start ?? '?'} ms`;
}

export function check(input: CheckInput): Violation[] {
  const { seed, history, initial, api, redis } = input;
  const out: Violation[] = [];
  const txOf = (orderId: string): string[] => redis.txByOrder.get(orderId) ?? [];
  const flag = (rule: string, message: string, orderId?: string): void => {
    // An order checked out many times has many transactions: name the first few.
    const txIds = (ids: string[]) => (ids.length > 10 ? [...ids.slice(0, 10), `… ${ids.length - 10} more`] : ids);
    out.push({ rule, message, seed, ...(orderId !== undefined ? { orderId, txIds: txIds(txOf(orderId)) } : {}) });
  };
  const checkoutsOf = groupBy(history.checkouts, (c) => c.orderId);
  const addsOf = groupBy(history.addItems, (a) => a.orderId);
  const found = new Map<string, FoundOrder>();
  // Stock is checked before credit, so an order of an unknown user whose item ran out is
  // refused for the stock. The workload never adds stock, so an item out of stock once is
  // out of stock at the end: a refusal for stock is right only if the final state shows it.
  const soldOut = (orderId: string): boolean =>
    (addsOf.get(orderId) ?? []).some((a) => {
      const left = api.stock.get(a.itemId);
      return typeof left === 'number' && left < a.qty;
    });

  for (const c of history.checkouts) {
    if (c.final === undefined) {
      flag('final-5xx', `no definite answer after retries: ${describe(c)}`, c.orderId);
    } else if (c.final.status !== 200 && !(c.final.status === 400 && CHECKOUT_REFUSALS.has(c.final.code ?? ''))) {
      flag('unexpected-answer', `checkout answered ${c.final.status} ${c.final.code ?? ''}: ${describe(c)}`, c.orderId);
    } else if (c.kind === 'repay' && c.final.status !== 200) {
      flag('repay-refused', `re-checkout of a paid order answered ${c.final.status} ${c.final.code ?? ''}`, c.orderId);
    } else if (c.kind === 'ghost-user' && c.final.code !== 'UNKNOWN_USER' && !(c.final.code === 'OUT_OF_STOCK' && soldOut(c.orderId))) {
      flag('ghost-user', `checkout for a user that does not exist answered ${c.final.status} ${c.final.code ?? ''}`, c.orderId);
    }
  }
  for (const a of history.addItems) {
    const f = a.final;
    if (f === undefined || f.status === 200) continue;
    if (!(a.racing && f.status === 400 && RACING_REFUSALS.has(f.code ?? ''))) {
      flag('addItem-answer', `addItem ${a.itemId} x${a.qty}${a.racing ? ' (racing a checkout)' : ''} answered ${f.status} ${f.code ?? ''}`, a.orderId);
    }
  }

  for (const [orderId, rec] of history.orders) {
    const o = api.orders.get(orderId);
    if (o === undefined || typeof o === 'string') {
      flag('order-lost', `created order (answered at ${rec.createdAt ?? 'set-up'} ms) cannot be read: ${o ?? 'not read'}`, orderId);
      continue;
    }
    found.set(orderId, o);
    const cs = checkoutsOf.get(orderId) ?? [];
    const adds = addsOf.get(orderId) ?? [];
    const ok = cs.filter((c) => c.final?.status === 200);
    const refused = cs.filter((c) => c.final !== undefined && c.final.status >= 400 && c.final.status < 500);
    const unknown = cs.some((c) => c.final === undefined);
    const uncertainAdds = adds.filter((a) => a.final === undefined);
    if (ok.length > 0 && !o.paid) flag('answered-200-unpaid', `answered 200 (${describe(ok[0]!)}) but the order is unpaid`, orderId);
    if (ok.length === 0 && !unknown && o.paid) {
      flag('paid-without-200', `paid, but its checkouts answered only ${cs.map(describe).join('; ') || 'nothing'}`, orderId);
    }
    // An EMPTY_ORDER before a line whose addItem answer was lost landed is a fair sequence.
    const contradicting = refused.filter((c) => !(c.final?.code === 'EMPTY_ORDER' && uncertainAdds.length > 0));
    if (ok.length > 0 && contradicting.length > 0) {
      flag('contradictory-answers', `both 200 and a refusal: ${[...ok, ...contradicting].map(describe).join('; ')}`, orderId);
    }
    if (o.user_id !== rec.userId) flag('order-user', `order shows user ${o.user_id}, created for ${rec.userId}`, orderId);
    checkLines(o, adds, uncertainAdds, orderId, flag);
    checkTotal(o, initial, orderId, flag);
  }

  checkConservation(input, found, checkoutsOf, flag);
  for (const [id, b] of redis.items) {
    if (b.h !== 0) flag('hold-left', `item ${id} still holds ${b.h} after quiescence`);
    if (!(b.a >= 0)) flag('negative', `item ${id} has available ${b.a}`);
  }
  for (const [id, b] of redis.users) {
    if (b.h !== 0) flag('hold-left', `user ${id} still holds ${b.h} after quiescence`);
    if (!(b.a >= 0)) flag('negative', `user ${id} has credit ${b.a}`);
  }
  if (!input.quiescent || redis.activeTx.length > 0) {
    out.push({ rule: 'not-quiescent', message: `otx:active still holds ${redis.activeTx.length} transactions`, txIds: redis.activeTx, seed });
  }
  for (const [id, o] of redis.orders) {
    if (o.x !== '') out.push({ rule: 'order-in-checkout', message: `order still marks transaction ${o.x} as in progress`, orderId: id, txIds: [o.x], seed });
    if (o.p === '1' && !history.orders.has(id)) flag('phantom-paid', 'a paid order that no client created', id);
  }
  for (const b of history.badInputs) {
    if (b.final?.status !== b.expect.status || b.final.code !== b.expect.code) {
      const got = b.final === undefined ? 'no definite answer' : `${b.final.status} ${b.final.code ?? ''}`;
      flag('bad-input', `${b.label} (${b.method} ${b.path}) answered ${got}, expected ${b.expect.status} ${b.expect.code ?? ''}`);
    }
  }
  for (const g of input.replication ?? []) {
    if (g.problem !== undefined) flag('replication', `${g.group}: ${g.problem}`);
  }
  return out;
}

type Flag = (rule: string, message: string, orderId?: string) => void;

/**
 * Every acknowledged addItem is in the order, and nothing else but adds whose answer was
 * lost. Adds of one item merge into one line: its quantity must be the acknowledged adds'
 * sum plus the quantities of some of the uncertain ones.
 */
function checkLines(o: FoundOrder, adds: AddItemRecord[], uncertain: AddItemRecord[], orderId: string, flag: Flag): void {
  const final = new Map(o.items.map(([i, q]) => [i, q]));
  const acked = new Map<string, number>();
  for (const a of adds.filter((a) => a.final?.status === 200)) acked.set(a.itemId, (acked.get(a.itemId) ?? 0) + a.qty);
  for (const item of new Set([...final.keys(), ...acked.keys()])) {
    const have = final.get(item) ?? 0;
    const sure = acked.get(item) ?? 0;
    const maybe = subsetSums(uncertain.filter((a) => a.itemId === item).map((a) => a.qty));
    if (have < sure) flag('line-lost', `acknowledged addItem missing from the order: ${item} holds ${have}, acknowledged ${sure}`, orderId);
    else if (!maybe.has(have - sure)) {
      flag('line-unexpected', `order holds ${have} of ${item}: no acknowledged adds (${sure}) plus lost-answer adds explain it`, orderId);
    }
  }
}

function checkTotal(o: FoundOrder, initial: Initial, orderId: string, flag: Flag): void {
  let total = 0;
  for (const [item, qty] of o.items) total += qty * (initial.items.get(item)?.price ?? NaN);
  if (total !== o.total_cost) flag('total', `total_cost ${o.total_cost} but its lines cost ${total}`, orderId);
}

function checkConservation(input: CheckInput, found: Map<string, FoundOrder>, checkoutsOf: Map<string, CheckoutRecord[]>, flag: Flag): void {
  const { initial, api } = input;
  const spent = new Map<string, number>();
  const taken = new Map<string, number>();
  const ordersOfUser = new Map<string, string[]>();
  const ordersOfItem = new Map<string, string[]>();
  for (const [id, o] of found) {
    if (!o.paid) continue;
    spent.set(o.user_id, (spent.get(o.user_id) ?? 0) + o.total_cost);
    ordersOfUser.set(o.user_id, [...(ordersOfUser.get(o.user_id) ?? []), id]);
    for (const [item, qty] of o.items) {
      taken.set(item, (taken.get(item) ?? 0) + qty);
      ordersOfItem.set(item, [...(ordersOfItem.get(item) ?? []), id]);
    }
  }
  // The orders to look at first: those whose checkouts saw an indeterminate answer.
  const suspects = (ids: string[]): string =>
    ids.filter((id) => (checkoutsOf.get(id) ?? []).some((c) => c.attempts.some((a) => a.indeterminate !== undefined))).join(', ') || 'none';
  for (const [id, u] of initial.users) {
    const credit = api.credit.get(id);
    const want = u.credit - (spent.get(id) ?? 0);
    if (typeof credit !== 'number') flag('user-lost', `user ${id} cannot be read: ${credit ?? 'not read'}`);
    else if (credit !== want) {
      flag('credit', `user ${id}: credit ${credit}, expected ${want} (initial ${u.credit} - ${spent.get(id) ?? 0} over ${(ordersOfUser.get(id) ?? []).length} paid orders; suspects: ${suspects(ordersOfUser.get(id) ?? [])})`);
    }
    if (typeof credit === 'number' && credit < 0) flag('negative', `user ${id} has credit ${credit}`);
  }
  for (const [id, it] of initial.items) {
    const stock = api.stock.get(id);
    const want = it.stock - (taken.get(id) ?? 0);
    if (typeof stock !== 'number') flag('item-lost', `item ${id} cannot be read: ${stock ?? 'not read'}`);
    else if (stock !== want) {
      flag('stock', `item ${id}: stock ${stock}, expected ${want} (initial ${it.stock} - ${taken.get(id) ?? 0} over ${(ordersOfItem.get(id) ?? []).length} paid orders; suspects: ${suspects(ordersOfItem.get(id) ?? [])})`);
    }
    if (typeof stock === 'number' && stock < 0) flag('negative', `item ${id} has stock ${stock}`);
  }
}
