/**
 * The transaction inspector (console/inspector.ts) on a real redis-server holding what real
 * checkouts wrote: the order service's Coordinator and OrderStore, with stock and payment as
 * their own LedgerStores in process (every key schema is distinct, so one server holds all
 * three groups). Committed, refused and stuck checkouts, and the capped history of an order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { LedgerStore } from '@shop/common/ledger/store.js';
import { PARTICIPANT_REFUSALS, type ParticipantName, type TxStep } from '@shop/common/ledger/protocol.js';
import { DurableWriter } from '@shop/common/redis.js';
import { startTestRedis, type TestRedis } from '@shop/common/testing/redis-server.js';
import { Coordinator } from '@shop/order/checkout.js';
import type { StepPort } from '@shop/order/participants.js';
import { OrderStore } from '@shop/order/store.js';
import { OrderShards } from '@shop/order/shards.js';
import { ITEM_PREFIX, STOCK_TX_PREFIX } from '@shop/stock/keys.js';
import { PAYMENT_TX_PREFIX, USER_PREFIX } from '@shop/payment/keys.js';
import { Inspector } from '../src/console/inspector.js';

let server: TestRedis;
let redis: Redis;
let orders: OrderStore;
let stock: LedgerStore;
let payment: LedgerStore;
let coordinator: Coordinator;
let inspector: Inspector;

/** A participant answering from its own ledger, as the stock and payment services do over HTTP. */
function inProcess(name: ParticipantName, ledger: LedgerStore): StepPort {
  return {
    codes: PARTICIPANT_REFUSALS[name],
    reserve: async (step: TxStep) => (await ledger.reserve([step]))[0]!,
    commit: async (step: TxStep) => (await ledger.commit([step]))[0]!,
    abort: async (step: TxStep) => (await ledger.abort([step]))[0]!,
  };
}

before(async () => {
  server = await startTestRedis();
  redis = server.client();
  const writer = new DurableWriter(redis, 0, 1000);
  orders = new OrderStore(redis, writer);
  stock = new LedgerStore(redis, writer, ITEM_PREFIX, STOCK_TX_PREFIX);
  payment = new LedgerStore(redis, writer, USER_PREFIX, PAYMENT_TX_PREFIX);
  coordinator = new Coordinator(new OrderShards([orders]), { stock: inProcess('stock', stock), payment: inProcess('payment', payment) }, pino({ level: 'silent' }));
  inspector = new Inspector(() => redis);
});
after(async () => server?.stop());

/** An item with `units` in stock at `price`, a user with `credit`, and an order of `qty` of the item. */
async function shop(units: number, price: number, credit: number, qty = 1): Promise<{ item: string; user: string; order: string }> {
  const [item, user, order] = [randomUUID(), randomUUID(), randomUUID()];
  await stock.put([[item, units]], { p: price });
  await payment.put([[user, credit]]);
  await orders.create(order, user);
  assert.equal((await orders.addItem(order, item, qty, qty * price)).kind, 'OK');
  return { item, user, order };
}

describe('transaction inspector', () => {
  test('a committed checkout: every step with its time, the decision, and holds made final', async () => {
    const { item, user, order } = await shop(5, 7, 100, 2);
    const before = Date.now();
    assert.deepEqual(await coordinator.checkout(order), { kind: 'committed', alreadyPaid: false });
    // The commit's apply finishes after the answer: wait for the transaction to be retired.
    for (let i = 0; i < 100 && (await redis.zcard('otx:active')) > 0; i++) await new Promise((r) => setTimeout(r, 20));

    const view = await inspector.order(order);
    assert.equal(view.exists, true);
    assert.equal(view.order?.paid, true);
    assert.equal(view.transactions.length, 1);
    const tx = view.transactions[0]!;
    assert.equal(tx.decision, 'commit');
    assert.equal(tx.unfinished, false);
    assert.match(tx.verdict, /^Committed/);
    assert.equal(tx.stock.state, 'committed');
    assert.equal(tx.payment.state, 'committed');
    assert.deepEqual(tx.stock.entries, [{ id: item, amount: 2, exists: true, available: 3, held: 0 }]);
    assert.deepEqual(tx.payment.entries, [{ id: user, amount: 14, exists: true, available: 86, held: 0 }]);
    for (const at of [tx.startedAt, tx.decidedAt, tx.finishedAt, tx.stock.lastStepAt, tx.payment.lastStepAt]) {
      assert.ok(at !== null && at >= before - 50 && at <= Date.now() + 50, `a time within the test: ${at}`);
    }
    assert.ok(tx.startedAt! <= tx.decidedAt!);
    assert.deepEqual(
      tx.steps.map((s) => s.what.replace(/^begun:.*/, 'begun')),
      ['begun', 'decided: commit (order paid)', 'stock: committed', 'payment: committed', 'finished (retired)'],
    );
  });

  test('a refused checkout says why, with the credit it lacked, and that every hold was returned', async () => {
    const { user, order } = await shop(5, 10, 3);
    assert.deepEqual(await coordinator.checkout(order), { kind: 'refused', code: 'INSUFFICIENT_CREDIT' });
    const [tx] = (await inspector.order(order)).transactions;
    assert.equal(tx?.decision, 'abort');
    assert.equal(tx.reason, 'INSUFFICIENT_CREDIT');
    assert.equal(tx.unfinished, false);
    assert.match(tx.verdict, /^Refused: INSUFFICIENT_CREDIT/);
    assert.match(tx.verdict, new RegExp(`user ${user} has 3 available \\(0 held by undecided checkouts\\), needs 10`));
    assert.match(tx.verdict, /Every hold was returned/);
    assert.notEqual(tx.stock.state, 'reserved');
    assert.equal(tx.stock.entries[0]?.held, 0);
  });

  test('a checkout stuck after its stock reserve is listed as unfinished and shows what it holds', async () => {
    const { item, order } = await shop(4, 1, 100, 3);
    const begun = await orders.begin(order, randomUUID());
    assert.equal(begun.kind, 'TX');
    if (begun.kind !== 'TX') return;
    // The coordinator's first step, then it "dies": stock holds, nothing decided.
    assert.deepEqual(await stock.reserve([{ tx: begun.tx.id, lines: [[item, 3]] }]), [{ code: 'OK' }]);

    const [tx] = (await inspector.order(order)).transactions;
    assert.equal(tx?.id, begun.tx.id);
    assert.equal(tx.current, true);
    assert.equal(tx.decision, '');
    assert.equal(tx.unfinished, true);
    assert.equal(tx.stock.state, 'reserved');
    assert.equal(tx.payment.state, 'none');
    assert.deepEqual(tx.stock.entries[0], { id: item, amount: 3, exists: true, available: 1, held: 3 });
    assert.match(tx.verdict, /^Undecided, in progress: stock holds; waiting for payment/);
    assert.deepEqual(tx.steps.slice(1).map((s) => s.what), ['stock: holds (reserved)']);

    const stuck = await inspector.unfinished();
    assert.ok(stuck.total >= 1);
    const listed = stuck.transactions.find((t) => t.id === begun.tx.id);
    assert.equal(listed?.orderId, order);
    assert.equal(listed.decision, '');
    assert.ok(listed.startedAt !== null && listed.startedAt <= Date.now());

    // Driven to its end (as recovery would), it leaves the list.
    await coordinator.drive(begun.tx, Date.now() + 5000, { untilFinished: true });
    assert.equal((await inspector.unfinished()).transactions.some((t) => t.id === begun.tx.id), false);
    assert.equal((await inspector.order(order)).transactions[0]?.decision, 'commit');
  });

  test('an order keeps its last 10 transactions, newest first', async () => {
    const { order } = await shop(0, 1, 100);
    for (let i = 0; i < 12; i++) assert.deepEqual(await coordinator.checkout(order), { kind: 'refused', code: 'OUT_OF_STOCK' });
    const view = await inspector.order(order);
    assert.equal(view.transactions.length, 10);
    const starts = view.transactions.map((t) => t.startedAt!);
    assert.deepEqual(starts, [...starts].sort((a, b) => b - a));
    assert.ok(view.transactions.every((t) => t.reason === 'OUT_OF_STOCK'));
  });

  test('an unknown order, and an unknown transaction', async () => {
    assert.deepEqual(await inspector.order('no-such-order'), { orderId: 'no-such-order', exists: false, transactions: [] });
    const tx = await inspector.transaction('no-such-tx');
    assert.equal(tx.exists, false);
    assert.match(tx.verdict, /^No record/);
  });
});
