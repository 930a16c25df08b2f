/**
 * The transaction inspector over two shards (docs/sharding.md): two redis-servers, shard 0 of
 * every service on one and shard 1 on the other, written by the real Coordinator over
 * OrderShards and ShardedLedgers. The inspector must read each entity on its own shard,
 * find a transaction's order shard from its id alone, and list every shard's unfinished ones.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { ShardedLedger, type Ledger } from '@shop/common/ledger/sharded.js';
import { LedgerStore } from '@shop/common/ledger/store.js';
import { PARTICIPANT_REFUSALS, type ParticipantName, type TxStep } from '@shop/common/ledger/protocol.js';
import { DurableWriter } from '@shop/common/redis.js';
import { shardIndex } from '@shop/common/shards.js';
import { startTestRedis, type TestRedis } from '@shop/common/testing/redis-server.js';
import { Coordinator } from '@shop/order/checkout.js';
import type { StepPort } from '@shop/order/participants.js';
import { OrderShards } from '@shop/order/shards.js';
import { OrderStore } from '@shop/order/store.js';
import { ITEM_PREFIX, STOCK_TX_PREFIX } from '@shop/stock/keys.js';
import { PAYMENT_TX_PREFIX, USER_PREFIX } from '@shop/payment/keys.js';
import { Inspector } from '../src/console/inspector.js';

let servers: TestRedis[];
let redis: Redis[];
let orders: OrderShards;
let stock: Ledger;
let payment: Ledger;
let coordinator: Coordinator;
let inspector: Inspector;

function inProcess(name: ParticipantName, ledger: Ledger): StepPort {
  const one = async (op: 'reserve' | 'commit' | 'abort', step: TxStep) => (await ledger.apply([{ ...step, op }]))[0]!;
  return {
    codes: PARTICIPANT_REFUSALS[name],
    reserve: (step) => one('reserve', step) as ReturnType<StepPort['reserve']>,
    commit: (step) => one('commit', step) as ReturnType<StepPort['commit']>,
    abort: (step) => one('abort', step) as ReturnType<StepPort['abort']>,
  };
}

before(async () => {
  servers = await Promise.all([startTestRedis(), startTestRedis()]);
  redis = servers.map((s) => s.client());
  const writers = redis.map((r) => new DurableWriter(r, 0, 1000));
  orders = new OrderShards(redis.map((r, k) => new OrderStore(r, writers[k]!)));
  stock = ShardedLedger.over(redis.map((r, k) => new LedgerStore(r, writers[k]!, ITEM_PREFIX, STOCK_TX_PREFIX)));
  payment = ShardedLedger.over(redis.map((r, k) => new LedgerStore(r, writers[k]!, USER_PREFIX, PAYMENT_TX_PREFIX)));
  coordinator = new Coordinator(orders, { stock: inProcess('stock', stock), payment: inProcess('payment', payment) }, pino({ level: 'silent' }));
  // Shard 1 of every service (`stock-s1`) on the second server, shard 0 on the first.
  inspector = new Inspector((group) => redis[group.endsWith('-s1') ? 1 : 0]!, 2);
});
after(async () => Promise.all(servers.map((s) => s.stop())));

const onShard = (k: number) => {
  for (;;) {
    const id = randomUUID();
    if (shardIndex(id, 2) === k) return id;
  }
};

/** A user with 50 credit and an order of theirs, each line [item, its stock, quantity] at price 1. */
async function orderOf(user: string, order: string, lines: [item: string, stock: number, qty: number][]): Promise<void> {
  await stock.put(lines.map(([item, units]) => [item, units]), { p: 1 });
  await payment.put([[user, 50]]);
  await orders.create(order, user);
  for (const [item, , qty] of lines) await orders.addItem(order, item, qty, qty);
}

describe('transaction inspector, two shards', () => {
  test('an order on shard 1 with an item on each stock shard: each read where it lives', async () => {
    const [item0, item1, user, order] = [onShard(0), onShard(1), onShard(1), onShard(1)];
    await orderOf(user, order, [
      [item1, 6, 2],
      [item0, 5, 3],
    ]);
    assert.deepEqual(await coordinator.drive((await begin(order)).tx, Date.now() + 5000, { untilFinished: true }), { kind: 'committed', alreadyPaid: false });

    const view = await inspector.order(order);
    assert.equal(view.order?.paid, true);
    const tx = view.transactions[0]!;
    assert.equal(tx.stock.state, 'committed');
    assert.deepEqual(
      tx.stock.entries.map((e) => [e.id, e.available, e.held]),
      tx.lines.map(([id]) => (id === item0 ? [item0, 2, 0] : [item1, 4, 0])),
    );
    assert.deepEqual(tx.payment.entries, [{ id: user, amount: 5, exists: true, available: 45, held: 0 }]);
  });

  test('a checkout stuck midway across shards: found from its id alone, listed as unfinished, shown holding', async () => {
    const [item0, item1, user, order] = [onShard(0), onShard(1), onShard(0), onShard(1)];
    await orderOf(user, order, [
      [item0, 5, 1],
      [item1, 1, 1],
    ]);
    const { tx } = await begin(order);
    // Stock shard 0 holds; shard 1 was never asked (the driver "died" in between).
    await stock.apply([{ op: 'reserve', tx: tx.id, lines: [[item0, 1]] }]);

    const view = await inspector.transaction(tx.id);
    assert.equal(view.exists, true);
    assert.equal(view.unfinished, true);
    assert.equal(view.stock.state, 'reserved');
    const listed = (await inspector.unfinished()).transactions.find((t) => t.id === tx.id);
    assert.equal(listed?.orderId, order);

    await coordinator.drive(tx, Date.now() + 5000, { untilFinished: true });
    assert.equal((await inspector.unfinished()).transactions.some((t) => t.id === tx.id), false);
  });
});

async function begin(order: string) {
  const begun = await orders.begin(order, randomUUID());
  if (begun.kind !== 'TX') throw new Error(`begin answered ${begun.kind}`);
  return begun;
}
