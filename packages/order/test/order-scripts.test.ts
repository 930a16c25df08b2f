import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { DurableWriter } from '@shop/common/redis.js';
import { mergeLines } from '@shop/common/ledger/protocol.js';
import { ACTIVE_KEY, FREEZE_KEY, PARKED_KEY, orderKey, txKey } from '../src/keys.js';
import { MAX_ORDER_LINES, OrderStore, type TxRecord } from '../src/store.js';
import { BARRIER_KEY } from '@shop/common/replication/promotable.js';
import { startTestRedis, type TestRedis } from '@shop/common/testing/redis-server.js';

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
  test('adds lines and grows the total; an item added again merges into its line', async () => {
    const o = id();
    await store.create(o, 'u1');
    assert.deepEqual(await store.addItem(o, 'a', 2, 10), { kind: 'OK', total: 10 });
    assert.deepEqual(await store.addItem(o, 'b', 4, 4), { kind: 'OK', total: 14 });
    assert.deepEqual(await store.addItem(o, 'a', 1, 5), { kind: 'OK', total: 19 });
    assert.deepEqual(await store.find(o), {
      order_id: o,
      paid: false,
      items: [
        ['a', 3],
        ['b', 4],
      ],
      user_id: 'u1',
      total_cost: 19,
    });
  });

  test('each call writes O(1): the replicated command stream does not grow with the order', async () => {
    const o = id();
    await store.create(o, 'u1');
    for (let i = 0; i < 200; i++) await store.addItem(o, `item-${i}`, 1, 1);
    const bytesOf = async (call: () => Promise<unknown>) => {
      const offset = async () => Number(/master_repl_offset:(\d+)/.exec(await redis.info('replication'))![1]);
      const before = await offset();
      await call();
      return (await offset()) - before;
    };
    const first = await bytesOf(() => store.addItem(o, 'late-1', 1, 1));
    for (let i = 200; i < 800; i++) await store.addItem(o, `item-${i}`, 1, 1);
    const later = await bytesOf(() => store.addItem(o, 'late-2', 1, 1));
    assert.ok(later <= first + 8, `an addItem to an order of 800 lines replicated ${later} bytes, of 200 lines ${first}`);
    assert.ok(later < 300, `${later} bytes`);
  });

  test('an order holds at most MAX_ORDER_LINES distinct items; adding to an existing line still works', async () => {
    const o = id();
    await store.create(o, 'u1');
    for (let i = 0; i < MAX_ORDER_LINES; i++) assert.equal((await store.addItem(o, `i${i}`, 1, 1)).kind, 'OK');
    assert.deepEqual(await store.addItem(o, 'one-too-many', 1, 1), { kind: 'TOO_MANY_LINES' });
    assert.deepEqual(await store.addItem(o, 'i7', 2, 2), { kind: 'OK', total: MAX_ORDER_LINES + 2 });
    const order = await store.find(o);
    assert.equal(order?.items.length, MAX_ORDER_LINES);
    assert.deepEqual(order?.items.find(([item]) => item === 'i7'), ['i7', 3]);
  });

  test('a merged quantity past 2^53 - 1 is refused even when the total stays small (price 0)', async () => {
    const o = id();
    await store.create(o, 'u1');
    assert.deepEqual(await store.addItem(o, 'free', Number.MAX_SAFE_INTEGER, 0), { kind: 'OK', total: 0 });
    assert.deepEqual(await store.addItem(o, 'free', 1, 0), { kind: 'TOO_LARGE' });
    assert.deepEqual((await store.find(o))?.items, [['free', Number.MAX_SAFE_INTEGER]]);
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

  test('while a snapshot freezes checkouts, no transaction opens, but the active one is still found', async () => {
    const busy = await orderWith([['a', 1, 1]]);
    const active = await begin(busy);
    const waiting = await orderWith([['a', 1, 1]]);
    await redis.set(FREEZE_KEY, '1', 'PX', 10_000);
    try {
      const txId = id();
      assert.deepEqual(await store.begin(waiting, txId), { kind: 'FROZEN' });
      assert.equal(await redis.exists(txKey(txId)), 0);
      assert.equal((await store.find(waiting))?.paid, false);
      assert.equal((await begin(busy)).id, active.id, 'the active transaction goes on, so the snapshot can wait for it');
    } finally {
      await redis.del(FREEZE_KEY);
    }
    assert.equal((await store.begin(waiting, id())).kind, 'TX');
  });

  test('refuses unknown and empty orders without opening anything; a paid order answers PAID', async () => {
    assert.deepEqual(await store.begin(id(), id()), { kind: 'NO_ORDER' });
    const empty = await orderWith([]);
    const txId = id();
    assert.deepEqual(await store.begin(empty, txId), { kind: 'EMPTY' });
    assert.equal(await redis.exists(txKey(txId)), 0);
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
    await store.putMany([['0', { userId: 'u1', lines: [['a', 1]], total: 1 }]]);
    const tx = await begin('0');
    await store.putMany([['0', { userId: 'u2', lines: [['b', 1]], total: 3 }]]);
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
    assert.ok((await redis.ttl(txKey(tx.id))) > 0);
  });

  test('retires the decided ones of one turn in one script call, leaving the undecided one', async () => {
    const txs = await Promise.all([1, 2, 3].map(async () => begin(await orderWith([['a', 1, 1]]))));
    await store.decide(txs[0]!, 'commit', '');
    await store.decide(txs[2]!, 'abort', 'OUT_OF_STOCK');
    const evalshas = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await evalshas();
    await Promise.all(txs.map((t) => store.finish(t.id)));
    assert.equal((await evalshas()) - before, 1, 'one call for the three');
    assert.equal(await redis.zscore(ACTIVE_KEY, txs[0]!.id), null);
    assert.notEqual(await redis.zscore(ACTIVE_KEY, txs[1]!.id), null, 'undecided stays');
    assert.equal(await redis.zscore(ACTIVE_KEY, txs[2]!.id), null);
    await store.decide(txs[1]!, 'abort', 'OUT_OF_STOCK');
    await store.finish(txs[1]!.id);
  });
});

describe('batch_init orders (putMany)', () => {
  test('overwrite an order entirely: no line of its previous life survives; the same item twice merges', async () => {
    await store.putMany([['0', { userId: 'u1', lines: [['x', 1], ['y', 1]], total: 2 }]]);
    await store.addItem('0', 'z', 5, 5);
    await store.putMany([['0', { userId: 'u2', lines: [['w', 1], ['w', 1]], total: 2 }]]);
    assert.deepEqual(await store.find('0'), { order_id: '0', paid: false, items: [['w', 2]], user_id: 'u2', total_cost: 2 });
    assert.deepEqual((await begin('0')).lines, [['w', 2]]);
  });
});

describe('checkout_defer.lua', () => {
  const retry = { firstMs: 1_000, maxMs: 8_000, parkAfter: 3 };

  test('pushes a failing transaction back, doubling up to the bound, and parks it after parkAfter failures', async () => {
    const tx = await begin(await orderWith([['a', 1, 1]]));
    const due = async () => Number(await redis.zscore(ACTIVE_KEY, tx.id)) - (Date.now() - 2_000);
    assert.equal(await store.defer(tx.id, 2_000, retry), 1);
    assert.ok(Math.abs((await due()) - 1_000) < 200, `first delay ${await due()}`);
    assert.equal(await store.defer(tx.id, 2_000, retry), 2);
    assert.ok(Math.abs((await due()) - 2_000) < 200);
    assert.equal(await redis.sismember(PARKED_KEY, tx.id), 0);
    assert.equal(await store.defer(tx.id, 2_000, retry), 3);
    assert.equal(await redis.sismember(PARKED_KEY, tx.id), 1);
    assert.equal(await store.defer(tx.id, 2_000, retry), 4);
    assert.equal(await store.defer(tx.id, 2_000, retry), 5);
    assert.ok(Math.abs((await due()) - 8_000) < 200, 'bounded');
    // Finishing retires it from both sets.
    await store.decide(tx, 'abort', 'OUT_OF_STOCK');
    await store.finish(tx.id);
    assert.equal(await redis.zscore(ACTIVE_KEY, tx.id), null);
    assert.equal(await redis.sismember(PARKED_KEY, tx.id), 0);
  });

  test('a finished transaction is never re-added', async () => {
    const tx = await begin(await orderWith([['a', 1, 1]]));
    await store.decide(tx, 'commit', '');
    await store.finish(tx.id);
    assert.equal(await store.defer(tx.id, 2_000, retry), 0);
    assert.equal(await redis.zscore(ACTIVE_KEY, tx.id), null);
  });

  test('stale() takes the oldest due first, so deferred ones let the others through', async () => {
    const [a, b] = [await begin(await orderWith([['a', 1, 1]])), await begin(await orderWith([['a', 1, 1]]))];
    await redis.zadd(ACTIVE_KEY, 1, a.id, 2, b.id);
    const firstTwo = async () => (await store.stale(0, 10_000)).filter((t) => t === a.id || t === b.id);
    assert.deepEqual(await firstTwo(), [a.id, b.id]);
    await store.defer(a.id, 0, retry);
    assert.deepEqual(await firstTwo(), [b.id], 'a is not due for a second');
    for (const t of [a, b]) {
      await store.decide(t, 'abort', 'OUT_OF_STOCK');
      await store.finish(t.id);
    }
  });
});

describe('orders written by an earlier version (lines as text in field i)', () => {
  test('are found, checked out with their lines, and take new lines beside the old ones', async () => {
    const o = id();
    await redis.hset(orderKey(o), 'u', 'u1', 't', 5, 'i', 'a 1\nb 2\na 1\n', 'p', 0, 'x', '');
    assert.deepEqual((await store.find(o))?.items, [
      ['a', 2],
      ['b', 2],
    ]);
    assert.deepEqual(await store.addItem(o, 'c', 1, 1), { kind: 'OK', total: 6 });
    assert.deepEqual((await store.find(o))?.items, [
      ['a', 2],
      ['b', 2],
      ['c', 1],
    ]);
    const tx = await begin(o);
    assert.equal(tx.amount, 6);
    assert.deepEqual(mergeLines(tx.lines), [
      ['a', 2],
      ['b', 2],
      ['c', 1],
    ]);
  });
});

describe('checkout_finish.lua on a transaction whose record vanished', () => {
  test('drops it from the unfinished and the parked sets', async () => {
    const txId = id();
    await redis.zadd(ACTIVE_KEY, 1, txId);
    await redis.sadd(PARKED_KEY, txId);
    await store.finish(txId);
    assert.equal(await redis.zscore(ACTIVE_KEY, txId), null);
    assert.equal(await redis.sismember(PARKED_KEY, txId), 0);
    assert.equal(await redis.exists(txKey(txId)), 0, 'no record is created');
  });
});
