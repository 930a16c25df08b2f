import { randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '@shop/common/metrics.js';
import { ShopError, UnknownOutcomeError } from '@shop/common/errors.js';
import { route, sendError } from '@shop/common/http.js';
import type { Line } from '@shop/common/ledger/protocol.js';
import type { ServiceModule } from '@shop/common/service.js';
import { parseAmount, parseBatchSize, parseId, parseQuantity } from '@shop/common/validate.js';
import { Coordinator } from './checkout.js';
import { createParticipants } from './participants.js';
import { Recovery } from './recovery.js';
import { OrderShards } from './shards.js';
import { OrderStore } from './store.js';

type P = Record<string, string>;

/** What this replica's checkouts are doing now; the unfinished and parked sets are read from the order Redis at each scrape. */
function registerTransactionGauges(metrics: Metrics, store: OrderShards, now: { inFlight: () => number; recovering: () => number }): void {
  const gauge = (name: string, help: string, read: () => Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      async collect() {
        this.set(await read().catch(() => NaN));
      },
    });
  gauge('shop_checkout_unfinished_transactions', 'Checkout transactions begun and not yet retired', () => store.unfinishedCount());
  gauge('shop_checkout_parked_transactions', 'Unfinished checkout transactions whose recovery failed many times (see logs)', () =>
    store.parkedCount(),
  );
  gauge('shop_checkout_in_flight', 'Checkout requests this replica is answering now', async () => now.inFlight());
  gauge('shop_checkout_recovering', 'Unfinished checkout transactions this replica is recovering now', async () => now.recovering());
}

export const orderService: ServiceModule = ({ apps, shards, config, log, metrics }) => {
  const store = new OrderShards(shards.map((s) => new OrderStore(s.redis, s.writer, metrics.observeBatch)));
  const participants = createParticipants(config.stockUrls, config.paymentUrls, config.internalSecret, metrics.observeBatch);
  const busyWaits = new Counter({
    name: 'shop_checkout_busy_waits_total',
    help: 'BUSY answers to a checkout reserve (it waits for the holds of undecided checkouts), by participant',
    labelNames: ['participant'],
    registers: [metrics.registry],
  });
  // Exported at 0 from the start, so a dashboard's rate() has a series before the first wait.
  for (const participant of ['stock', 'payment'] as const) busyWaits.inc({ participant }, 0);
  const coordinator = new Coordinator(store, participants, log, {
    crashPoint: config.crashPoint,
    onBusy: (participant) => busyWaits.inc({ participant }),
  });
  let inFlight = 0;
  // One loop per shard: each shard keeps its own set of unfinished transactions.
  const recoveries = store.stores.map((shard) => new Recovery(shard, coordinator, config.replicaId, log));
  const app = apps.public;

  route(app, 'POST', '/create/:user_id', async (req) => {
    const userId = parseId((req.params as P).user_id);
    const orderId = randomUUID();
    await store.create(orderId, userId);
    return { order_id: orderId };
  });

  route(app, 'GET', '/find/:order_id', async (req) => {
    const order = await store.find(parseId((req.params as P).order_id));
    if (order === undefined) throw new ShopError('UNKNOWN_ORDER');
    return order;
  });

  route(app, 'POST', '/addItem/:order_id/:item_id/:quantity', async (req) => {
    const params = req.params as P;
    const orderId = parseId(params.order_id);
    const itemId = parseId(params.item_id);
    const quantity = parseQuantity(params.quantity);
    const price = await itemPrice(itemId);
    const cost = quantity * price;
    if (!Number.isSafeInteger(cost)) throw new ShopError('TOO_LARGE');
    const result = await store.addItem(orderId, itemId, quantity, cost);
    switch (result.kind) {
      case 'OK':
        return { order_id: orderId, total_cost: result.total };
      case 'NO_ORDER':
        throw new ShopError('UNKNOWN_ORDER');
      case 'PAID':
        throw new ShopError('ORDER_PAID');
      case 'IN_CHECKOUT':
        throw new ShopError('ORDER_IN_CHECKOUT');
      case 'TOO_LARGE':
        throw new ShopError('TOO_LARGE');
      case 'TOO_MANY_LINES':
        throw new ShopError('ORDER_TOO_LARGE');
    }
  });

  /** The item's current price from stock; a read, so it is retried on another replica. */
  async function itemPrice(itemId: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { status, body } = await participants.stock.client.get<{ price?: number }>(`/items/${itemId}`);
        if (status === 200 && typeof body.price === 'number') return body.price;
        if (status === 400) throw new ShopError('UNKNOWN_ITEM');
        throw new ShopError('UNAVAILABLE', `stock answered ${status}`);
      } catch (err) {
        if (!(err instanceof UnknownOutcomeError) || attempt === 4) {
          throw err instanceof ShopError ? err : new ShopError('UNAVAILABLE', 'stock service unreachable');
        }
      }
    }
  }

  route(app, 'POST', '/checkout/:order_id', async (req, reply) => {
    const orderId = parseId((req.params as P).order_id);
    inFlight++;
    const outcome = await coordinator.checkout(orderId).finally(() => inFlight--);
    if (outcome.kind === 'committed') {
      metrics.checkouts.inc({ outcome: outcome.alreadyPaid ? 'already_paid' : 'committed' });
      return { order_id: orderId, paid: true };
    }
    metrics.checkouts.inc({ outcome: outcome.code });
    return sendError(reply, outcome.code);
  });

  route(app, 'POST', '/batch_init/:n/:n_items/:n_users/:item_price', async (req) => {
    const params = req.params as P;
    const n = parseBatchSize(params.n);
    const nItems = parseBatchSize(params.n_items);
    const nUsers = parseBatchSize(params.n_users);
    const price = parseAmount(params.item_price);
    const total = 2 * price;
    if (!Number.isSafeInteger(total)) throw new ShopError('TOO_LARGE');
    if (n > 0 && (nItems === 0 || nUsers === 0)) throw new ShopError('BAD_NUMBER', 'n_items and n_users must be at least 1');
    const pick = (k: number) => String(Math.floor(Math.random() * k));
    await store.putMany(n, () => {
      const lines: Line[] = [
        [pick(nItems), 1],
        [pick(nItems), 1],
      ];
      return { userId: pick(nUsers), lines, total };
    });
    return { msg: `batch_init: ${n} orders` };
  });

  registerTransactionGauges(metrics, store, {
    inFlight: () => inFlight,
    recovering: () => recoveries.reduce((n, r) => n + r.inProgress, 0),
  });
  for (const r of recoveries) r.start();
  return {
    close: async () => {
      for (const r of recoveries) r.stop();
      await Promise.all([participants.stock.close(), participants.payment.close()]);
    },
  };
};
