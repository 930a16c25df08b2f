/**
 * The seeded workload: a fixed population set up through the API before any fault, then a
 * pool of workers doing a mix of checkouts (fresh, duplicated, racing addItem, repeated,
 * refused for credit or an unknown user) and bad inputs, each recorded in the history.
 */
import { randomUUID } from 'node:crypto';
import { inParallel, type ShopClient } from '@shop/launcher/api.js';
import { CHECKOUT_POLICY, ONCE_POLICY, callUntilDefinite } from './calls.js';
import type { CheckoutKind, Clock, Definite, History, Initial, ItemInfo, UserInfo } from './history.js';
import { weighted, type Prng } from './prng.js';

export interface Population {
  users: number;
  poorUsers: number;
  items: number;
  hotItems: number;
}

export const DEFAULT_POPULATION: Population = { users: 300, poorUsers: 30, items: 200, hotItems: 5 };

/** Fixtures that only bad inputs and refused checkouts use. */
export interface Fixtures {
  /** Orders with no lines: checkout must answer EMPTY_ORDER and they must stay empty. */
  emptyOrders: string[];
  /** Orders whose user does not exist: checkout reserves stock, then must undo it. */
  ghostOrders: string[];
}

export async function setUp(
  api: ShopClient,
  rng: Prng,
  pop: Population,
  history: History,
  concurrency: number,
): Promise<{ initial: Initial; fixtures: Fixtures }> {
  const itemSpecs = Array.from({ length: pop.items + pop.hotItems }, (_, i) => {
    const hot = i >= pop.items;
    // Hot items have so little stock that OUT_OF_STOCK refusals happen early in a run.
    return { price: rng.int(1, 50), stock: hot ? rng.int(3, 20) : 1_000_000, hot };
  });
  const userSpecs = Array.from({ length: pop.users + pop.poorUsers }, (_, i) => {
    const poor = i >= pop.users;
    // Poor users can afford at most a cheap order or two: INSUFFICIENT_CREDIT happens.
    return { credit: poor ? rng.int(0, 60) : rng.int(20_000, 200_000), poor };
  });
  const items = await inParallel(
    concurrency,
    itemSpecs.map((s) => async (): Promise<ItemInfo> => ({ id: await api.createItem(s.price, s.stock), ...s })),
  );
  const users = await inParallel(
    concurrency,
    userSpecs.map((s) => async (): Promise<UserInfo> => ({ id: await api.createUser(s.credit), ...s })),
  );
  const rich = users.filter((u) => !u.poor);
  const plain = items.filter((i) => !i.hot);
  const emptyOrders: string[] = [];
  const ghostOrders: string[] = [];
  for (let i = 0; i < 5; i++) {
    const user = rng.pick(rich).id;
    const id = await api.createOrder(user);
    history.addOrder({ orderId: id, userId: user });
    emptyOrders.push(id);
  }
  for (let i = 0; i < 5; i++) {
    const user = randomUUID();
    const item = rng.pick(plain);
    const id = await api.createOrder(user, [[item.id, 1]]);
    history.addOrder({ orderId: id, userId: user });
    history.addItems.push({
      orderId: id,
      itemId: item.id,
      qty: 1,
      racing: false,
      attempts: [],
      final: { status: 200 },
    });
    ghostOrders.push(id);
  }
  return {
    initial: { items: new Map(items.map((i) => [i.id, i])), users: new Map(users.map((u) => [u.id, u])) },
    fixtures: { emptyOrders, ghostOrders },
  };
}

type Op = 'fresh' | 'duplicate' | 'race' | 'repay' | 'poor' | 'bad' | 'ghost';

const OP_WEIGHTS: readonly (readonly [number, Op])[] = [
  [45, 'fresh'],
  [15, 'duplicate'],
  [12, 'race'],
  [10, 'repay'],
  [6, 'poor'],
  [8, 'bad'],
  [4, 'ghost'],
];

interface BadInput {
  label: string;
  method: 'GET' | 'POST';
  path: string;
  expect: Definite;
}

export interface WorkloadOptions {
  concurrency: number;
  /** Workers start no new operation after this time on the run's clock. */
  untilMs: number;
  /** A cap on operations, so that a fast cluster still makes a bounded history. */
  maxOps: number;
  stopping: () => boolean;
}

export class Workload {
  private readonly rich: UserInfo[];
  private readonly poor: UserInfo[];
  private readonly plain: ItemInfo[];
  private readonly hot: ItemInfo[];
  private ops = 0;

  constructor(
    private readonly api: ShopClient,
    private readonly history: History,
    private readonly clock: Clock,
    initial: Initial,
    private readonly fixtures: Fixtures,
  ) {
    const users = [...initial.users.values()];
    const items = [...initial.items.values()];
    this.rich = users.filter((u) => !u.poor);
    this.poor = users.filter((u) => u.poor);
    this.plain = items.filter((i) => !i.hot);
    this.hot = items.filter((i) => i.hot);
  }

  /** Runs the worker pool; resolves when every worker has finished its last operation. */
  async run(rng: Prng, o: WorkloadOptions): Promise<void> {
    const workers = Array.from({ length: o.concurrency }, (_, w) => rng.fork(w));
    await Promise.all(
      workers.map(async (wrng) => {
        while (this.clock.now() < o.untilMs && !o.stopping() && this.ops < o.maxOps) {
          this.ops++;
          await this.step(wrng, weighted(wrng, OP_WEIGHTS));
        }
      }),
    );
  }

  private async step(rng: Prng, op: Op): Promise<void> {
    switch (op) {
      case 'fresh':
      case 'poor': {
        const order = await this.newOrder(rng, op === 'poor' ? this.poor : this.rich);
        if (order !== undefined) await this.checkout(rng, order, op);
        return;
      }
      case 'duplicate': {
        const order = await this.newOrder(rng, this.rich);
        if (order === undefined) return;
        await Promise.all(Array.from({ length: rng.int(2, 5) }, () => this.checkout(rng, order, 'duplicate')));
        return;
      }
      case 'race': {
        const order = await this.newOrder(rng, this.rich);
        if (order === undefined) return;
        const adds = Array.from({ length: rng.int(1, 2) }, () => this.line(rng));
        const delay = rng.int(0, 15);
        await Promise.all([
          this.checkout(rng, order, 'race'),
          (async () => {
            await new Promise((r) => setTimeout(r, delay));
            for (const [item, qty] of adds) await this.addItem(rng, order, item, qty, true);
          })(),
        ]);
        return;
      }
      case 'repay': {
        if (this.history.paidOrders.length === 0) return this.step(rng, 'fresh');
        await this.checkout(rng, rng.pick(this.history.paidOrders), 'repay');
        return;
      }
      case 'ghost':
        await this.checkout(rng, rng.pick(this.fixtures.ghostOrders), 'ghost-user');
        return;
      case 'bad':
        await this.badInput(rng, this.pickBadInput(rng));
        return;
    }
  }

  private line(rng: Prng): [string, number] {
    const item = rng.chance(0.12) ? rng.pick(this.hot) : rng.pick(this.plain);
    return [item.id, rng.int(1, 3)];
  }

  /** Creates an order with 1-3 lines; undefined when even its creation stayed unknown. */
  private async newOrder(rng: Prng, users: UserInfo[]): Promise<string | undefined> {
    const user = rng.pick(users).id;
    // A create repeated after a lost answer makes a second, empty order: harmless.
    const created = await callUntilDefinite(this.api, 'POST', `/orders/create/${user}`, CHECKOUT_POLICY, this.clock, rng);
    const orderId = created.body?.order_id;
    if (created.final?.status !== 200 || typeof orderId !== 'string') return undefined;
    this.history.addOrder({ orderId, userId: user, createdAt: this.clock.now() });
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const [item, qty] = this.line(rng);
      await this.addItem(rng, orderId, item, qty, false);
    }
    return orderId;
  }

  /** addItem is not idempotent: an indeterminate answer is recorded and never repeated. */
  private async addItem(rng: Prng, orderId: string, itemId: string, qty: number, racing: boolean): Promise<void> {
    const r = await callUntilDefinite(this.api, 'POST', `/orders/addItem/${orderId}/${itemId}/${qty}`, ONCE_POLICY, this.clock, rng);
    this.history.addItems.push({ orderId, itemId, qty, racing, attempts: r.attempts, final: r.final });
  }

  private async checkout(rng: Prng, orderId: string, kind: CheckoutKind): Promise<void> {
    const r = await callUntilDefinite(this.api, 'POST', `/orders/checkout/${orderId}`, CHECKOUT_POLICY, this.clock, rng);
    this.history.addCheckout({ orderId, kind, attempts: r.attempts, final: r.final });
  }

  private async badInput(rng: Prng, b: BadInput): Promise<void> {
    // Every bad input changes nothing, so repeating it after a lost answer is safe.
    const r = await callUntilDefinite(this.api, b.method, b.path, CHECKOUT_POLICY, this.clock, rng);
    this.history.badInputs.push({ ...b, attempts: r.attempts, final: r.final });
  }

  private pickBadInput(rng: Prng): BadInput {
    const empty = rng.pick(this.fixtures.emptyOrders);
    const item = rng.pick(this.plain).id;
    const hot = rng.pick(this.hot).id;
    const user = rng.pick(this.rich).id;
    const ghost = randomUUID();
    const paid = this.history.paidOrders.length > 0 ? rng.pick(this.history.paidOrders) : undefined;
    const table: BadInput[] = [
      { label: 'checkout of an unknown order', method: 'POST', path: `/orders/checkout/${ghost}`, expect: { status: 400, code: 'UNKNOWN_ORDER' } },
      { label: 'checkout with a malformed id', method: 'POST', path: '/orders/checkout/a%3Ab', expect: { status: 400, code: 'BAD_ID' } },
      { label: 'checkout of an empty order', method: 'POST', path: `/orders/checkout/${empty}`, expect: { status: 400, code: 'EMPTY_ORDER' } },
      { label: 'addItem quantity 0', method: 'POST', path: `/orders/addItem/${empty}/${item}/0`, expect: { status: 400, code: 'BAD_QUANTITY' } },
      { label: 'addItem quantity -1', method: 'POST', path: `/orders/addItem/${empty}/${item}/-1`, expect: { status: 400, code: 'BAD_NUMBER' } },
      { label: 'addItem quantity 1.5', method: 'POST', path: `/orders/addItem/${empty}/${item}/1.5`, expect: { status: 400, code: 'BAD_NUMBER' } },
      { label: 'addItem quantity abc', method: 'POST', path: `/orders/addItem/${empty}/${item}/abc`, expect: { status: 400, code: 'BAD_NUMBER' } },
      { label: 'addItem of an unknown item', method: 'POST', path: `/orders/addItem/${empty}/${ghost}/1`, expect: { status: 400, code: 'UNKNOWN_ITEM' } },
      { label: 'addItem to an unknown order', method: 'POST', path: `/orders/addItem/${ghost}/${item}/1`, expect: { status: 400, code: 'UNKNOWN_ORDER' } },
      { label: 'subtract beyond the stock', method: 'POST', path: `/stock/subtract/${hot}/1000000000`, expect: { status: 400, code: 'OUT_OF_STOCK' } },
      { label: 'subtract -5', method: 'POST', path: `/stock/subtract/${item}/-5`, expect: { status: 400, code: 'BAD_NUMBER' } },
      { label: 'pay beyond the credit', method: 'POST', path: `/payment/pay/${user}/1000000000000`, expect: { status: 400, code: 'INSUFFICIENT_CREDIT' } },
      { label: 'add_funds 1e3', method: 'POST', path: `/payment/add_funds/${user}/1e3`, expect: { status: 400, code: 'BAD_NUMBER' } },
      { label: 'find of an unknown user', method: 'GET', path: `/payment/find_user/${ghost}`, expect: { status: 400, code: 'UNKNOWN_USER' } },
      { label: 'find of an unknown item', method: 'GET', path: `/stock/find/${ghost}`, expect: { status: 400, code: 'UNKNOWN_ITEM' } },
    ];
    if (paid !== undefined) {
      table.push({ label: 'addItem to a paid order', method: 'POST', path: `/orders/addItem/${paid}/${item}/1`, expect: { status: 400, code: 'ORDER_PAID' } });
    }
    return rng.pick(table);
  }
}
