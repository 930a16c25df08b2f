import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { DurableWriter } from '../../common/src/redis.js';
import { ACTIVE_KEY, OrderStore, type TxRecord } from '../src/store.js';
import { BARRIER_KEY } from '../../common/src/replication/promotable.js';
import { startTestRedis, type TestRedis } from '../../../test/support/redis-server.js';

let server: TestRedis;
let redis: Redis;
let store: OrderStore;

before(async () => {
  server = await startTestRedis();
  redis = server.client();
  store = new OrderStore(redis, new DurableWriter(redis, 0, 1000));
});
after(async () => server.stop());

const id = () => randomUUID();
async function orderWith(lines: [string, number, number][]): Promise<string> {
  const o = id();
  await store.create(o, 'u1');
  for (const [item, qty, cost] of lines) await store.addItem(o, item, qty, cost);
  return o;
}
async function begin(orderId: string): Promise<TxRecord> {
  const r = await store.begin(orderId, id());
  assert.equal(r.kind, 'TX');
  return (r as { tx: TxRecord }).tx;
}

describe('add_item.lua', () => {
  test('appends lines and grows the total; find shows them in order', async () => {
    const o = id();
    await store.create(o, 'u1');
    assert.deepEqual(await store.addItem(o, 'a', 2, 10), { kind: 'OK', total: 10 });
    assert.deepEqual(await store.addItem(o, 'a', 1, 5), { kind: 'OK', total: 15 });
    assert.deepEqual(await store.find(o), {
      order_id: o,
      paid: false,
      items: [
        ['a', 2],
        ['a', 1],
      ],
      user_id: 'u1',
      total_cost: 15,
    });
  });

  test('refuses an unknown order, a paid order, an order in checkout, an overflow', async () => {
    assert.deepEqual(await store.addItem(id(), 'a', 1, 1), { kind: 'NO_ORDER' });
    const o = await orderWith([['a', 1, Number.MAX_SAFE_INTEGER - 1]]);
    assert.deepEqual(await store.addItem(o, 'a', 1, 2), { kind: 'TOO_LARGE' });
    const tx = await begin(o);
    assert.deepEqual(await store.addItem(o, 'b', 1, 1), { kind: 'IN_CHECKOUT' });
    await store.decide(tx, 'commit', '');
    assert.deepEqual(await store.addItem(o, 'b', 1, 1), { kind: 'PAID' });
    assert.equal((await store.find(o))?.total_cost, Number.MAX_SAFE_INTEGER - 1);
  });
});

describe('checkout_begin.lua', () => {
  test('opens one transaction with a snapshot of the order; a second begin finds the same one', async () => {
    const o = await orderWith([['a', 2, 6], ['b', 1, 4]]);
    const tx = await begin(o);
    assert.equal(tx.orderId, o);
    assert.equal(tx.userId, 'u1');
    assert.equal(tx.amount, 10);
    assert.deepEqual(tx.lines, [
      ['a', 2],
      ['b', 1],
    ]);
    assert.equal(tx.decision, '');
    const again = await begin(o);
    assert.equal(again.id, tx.id);
    assert.notEqual(await redis.zscore(ACTIVE_KEY, tx.id), null);
  });

  test('refuses unknown and empty orders without opening anything; a paid order answers PAID', async () => {
    assert.deepEqual(await store.begin(id(), id()), { kind: 'NO_ORDER' });
    const empty = await orderWith([]);
    const txId = id();
    assert.deepEqual(await store.begin(empty, txId), { kind: 'EMPTY' });
    assert.equal(await redis.exists(`otx:${txId}`), 0);
    const o = await orderWith([['a', 1, 1]]);
    await store.decide(await begin(o), 'commit', '');
    assert.deepEqual(await store.begin(o, id()), { kind: 'PAID' });
  });

  test('a replayed begin returns its own transaction, even one another driver has since finished', async () => {
    const o = await orderWith([['a', 1, 1]]);
    const txId = id();
    const first = await store.begin(o, txId);
    assert.equal(first.kind, 'TX');
    const tx = (first as { tx: TxRecord }).tx;
    // Another driver (recovery, a duplicate) decides and retires it before the replay arrives.
    await store.decide(tx, 'abort', 'UNKNOWN_USER');
    await store.finish(txId);
    const replay = await store.begin(o, txId);
    assert.equal(replay.kind, 'TX');
    assert.deepEqual({ ...(replay as { tx: TxRecord }).tx }, { ...tx, decision: 'abort', reason: 'UNKNOWN_USER' });
    assert.equal(await redis.zscore(ACTIVE_KEY, txId), null, 'not re-opened');
  });

  test('answers read from another driver\'s writes write the barrier, so that WAIT covers them', async () => {
    const barrier = async (): Promise<number> => Number(await redis.get(BARRIER_KEY));
    const o = await orderWith([['a', 1, 1]]);
    const before = await barrier();
    const tx = await begin(o);
    assert.equal(await barrier(), before, 'opening a transaction writes it: no barrier needed');
    await begin(o);
    assert.equal(await barrier(), before + 1, 'a second driver joined the open transaction');
    await store.decide(tx, 'abort', 'OUT_OF_STOCK');
    assert.equal(await barrier(), before + 1, 'recording the decision writes it');
    await store.decide(tx, 'commit', '');
    assert.equal(await barrier(), before + 2, 'a later driver adopted the recorded decision');
  });

  test('after an abort the next begin is a fresh transaction', async () => {
    const o = await orderWith([['a', 1, 1]]);
    const first = await begin(o);
    assert.deepEqual(await store.decide(first, 'abort', 'OUT_OF_STOCK'), { decision: 'abort', reason: 'OUT_OF_STOCK' });
    const second = await begin(o);
    assert.notEqual(second.id, first.id);
    assert.equal(second.decision, '');
  });
});

describe('checkout_decide.lua', () => {
  test('the first decision wins and a commit sets paid in the same step', async () => {
    const o = await orderWith([['a', 1, 1]]);
    const tx = await begin(o);
    assert.deepEqual(await store.decide(tx, 'commit', ''), { decision: 'commit', reason: '' });
    assert.deepEqual(await store.decide(tx, 'abort', 'OUT_OF_STOCK'), { decision: 'commit', reason: '' });
    assert.equal((await store.find(o))?.paid, true);
  });

  test('an abort first makes a later commit adopt the abort, order left unpaid', async () => {
    const o = await orderWith([['a', 1, 1]]);
    const tx = await begin(o);
    await store.decide(tx, 'abort', 'INSUFFICIENT_CREDIT');
    assert.deepEqual(await store.decide(tx, 'commit', ''), { decision: 'abort', reason: 'INSUFFICIENT_CREDIT' });
    assert.equal((await store.find(o))?.paid, false);
  });

  test('a commit of an order re-created by batch_init meanwhile becomes an abort', async () => {
    await store.putMany(1, () => ({ userId: 'u1', lines: [['a', 1]], total: 1 }));
    const tx = await begin('0');
    await store.putMany(1, () => ({ userId: 'u2', lines: [['b', 1]], total: 3 }));
    assert.deepEqual(await store.decide(tx, 'commit', ''), { decision: 'abort', reason: 'ORDER_REPLACED' });
    const order = await store.find('0');
    assert.equal(order?.paid, false);
    assert.equal(order?.user_id, 'u2');
    const fresh = await begin('0');
    assert.notEqual(fresh.id, tx.id);
    assert.equal(fresh.amount, 3);
  });
});

describe('checkout_finish.lua', () => {
  test('retires decided transactions only', async () => {
    const o = await orderWith([['a', 1, 1]]);
    const tx = await begin(o);
    await store.finish(tx.id);
    assert.notEqual(await redis.zscore(ACTIVE_KEY, tx.id), null, 'undecided stays');
    await store.decide(tx, 'commit', '');
    await store.finish(tx.id);
    assert.equal(await redis.zscore(ACTIVE_KEY, tx.id), null);
    assert.ok((await redis.ttl(`otx:${tx.id}`)) > 0);
  });
});
