/**
 * Checkout semantics through the gateway: the course consistency scenario exactly,
 * exactly-once under repeats and concurrent duplicates, addItem racing checkout, and
 * checkouts of batch_init orders. One suite, run unsharded (test/e2e/checkout.test.ts) and
 * on 2 shards per service (test/e2e/checkout-sharded.test.ts), where it also checks
 * checkouts whose items live on both stock shards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ShopClient, inParallel } from '@shop/launcher/api.js';
import { Redis } from 'ioredis';
import { shardGroupName, shardIndex } from '@shop/common/shards.js';
import { ORDER_PREFIX } from '@shop/order/keys.js';
import { USER_PREFIX } from '@shop/payment/keys.js';
import { ITEM_PREFIX } from '@shop/stock/keys.js';
import { startSystem, type System } from './system.js';

export function checkoutSuite(shards: number): void {
  let system: System;
  let api: ShopClient;

  before(async () => {
    system = await startSystem(128, shards);
    api = system.api;
  });
  after(async () => system?.stop());

  describe(`checkout (${shards === 1 ? 'unsharded' : `${shards} shards`})`, () => {
    test('the course consistency scenario comes out exact, read right after the last answer', async () => {
      const item = await api.createItem(1, 100);
      const users = await inParallel(50, Array.from({ length: 1000 }, () => () => api.createUser(1)));
      const orders = await inParallel(
        50,
        Array.from({ length: 1000 }, () => () => api.createOrder(users[Math.floor(Math.random() * users.length)]!, [[item, 1]])),
      );
      const statuses = await inParallel(
        100,
        orders.map((o) => async () => (await api.post(`/orders/checkout/${o}`)).status),
      );
      const stock = await api.stock(item);
      const credits = await inParallel(50, users.map((u) => () => api.credit(u)));

      const counts: Record<number, number> = {};
      for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
      assert.deepEqual(counts, { 200: 100, 400: 900 });
      assert.equal(stock, 0);
      assert.equal(
        credits.reduce((a, b) => a + b, 0),
        900,
      );
      const paid = await inParallel(50, orders.map((o) => async () => (await api.order(o)).paid));
      assert.equal(paid.filter(Boolean).length, 100);
    });

    test('a repeated checkout answers 200 and charges nothing', async () => {
      const item = await api.createItem(3, 10);
      const user = await api.createUser(100);
      const order = await api.createOrder(user, [[item, 2]]);
      for (let i = 0; i < 3; i++) assert.equal((await api.post(`/orders/checkout/${order}`)).status, 200);
      assert.equal(await api.stock(item), 8);
      assert.equal(await api.credit(user), 94);
    });

    test('20 concurrent checkouts of one order charge it once', async () => {
      const item = await api.createItem(5, 50);
      const user = await api.createUser(1000);
      const order = await api.createOrder(user, [[item, 3]]);
      const answers = await Promise.all(Array.from({ length: 20 }, () => api.post(`/orders/checkout/${order}`)));
      assert.deepEqual(
        answers.map((a) => a.status),
        Array<number>(20).fill(200),
      );
      assert.equal(await api.stock(item), 47);
      assert.equal(await api.credit(user), 985);
    });

    test('concurrent duplicates of a refused checkout all answer 400 and change nothing', async () => {
      const item = await api.createItem(5, 1);
      const user = await api.createUser(1000);
      const order = await api.createOrder(user, [[item, 2]]);
      const answers = await Promise.all(Array.from({ length: 10 }, () => api.post(`/orders/checkout/${order}`)));
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([400]));
      assert.equal(await api.stock(item), 1);
      assert.equal(await api.credit(user), 1000);
    });

    test('addItem racing checkout: the amount charged is always the total the order shows as paid', async () => {
      const item = await api.createItem(1, 100_000);
      const rounds = 30;
      for (let r = 0; r < rounds; r++) {
        const user = await api.createUser(1_000);
        const order = await api.createOrder(user, [[item, 1]]);
        const adds = Array.from({ length: 5 }, () => api.post(`/orders/addItem/${order}/${item}/1`));
        const checkout = api.post(`/orders/checkout/${order}`);
        const [c, ...added] = await Promise.all([checkout, ...adds]);
        assert.equal(c.status, 200);
        for (const a of added) assert.ok(a.status === 200 || a.status === 400, `addItem answered ${a.status}`);
        const shown = await api.order(order);
        assert.equal(shown.paid, true);
        const quantity = shown.items.reduce((n, [, q]) => n + q, 0);
        assert.equal(shown.total_cost, quantity);
        assert.equal(1_000 - (await api.credit(user)), shown.total_cost, `round ${r}`);
      }
    });

    test('batch_init orders check out, repeats answer 200, and conservation holds', async () => {
      const n = 2_000;
      await api.ok(`/stock/batch_init/${n}/1000/1`);
      await api.ok(`/payment/batch_init/${n}/1000`);
      await api.ok(`/orders/batch_init/${n}/${n}/${n}/1`);
      const ids = Array.from({ length: 1500 }, () => String(Math.floor(Math.random() * n)));
      const statuses = await inParallel(64, ids.map((id) => async () => (await api.post(`/orders/checkout/${id}`)).status));
      assert.deepEqual(new Set(statuses), new Set([200]));
      const distinct = new Set(ids).size;
      // Every order costs 2 and takes 2 units of stock: conservation across all entities.
      const credits = await inParallel(64, Array.from({ length: n }, (_, i) => () => api.credit(String(i))));
      const stocks = await inParallel(64, Array.from({ length: n }, (_, i) => () => api.stock(String(i))));
      assert.equal(n * 1000 - credits.reduce((a, b) => a + b, 0), 2 * distinct);
      assert.equal(n * 1000 - stocks.reduce((a, b) => a + b, 0), 2 * distinct);
    });

    test('a batch_init re-creates a paid order as a new, unpaid order that checks out again', async () => {
      await api.ok('/stock/batch_init/5/100/2');
      await api.ok('/payment/batch_init/5/100');
      await api.ok('/orders/batch_init/5/5/5/2');
      assert.equal((await api.post('/orders/checkout/3')).status, 200);
      assert.equal((await api.order('3')).paid, true);
      await api.ok('/orders/batch_init/5/5/5/2');
      assert.equal((await api.order('3')).paid, false);
      const user = (await api.order('3')).user_id;
      const before = await api.credit(user);
      assert.equal((await api.post('/orders/checkout/3')).status, 200);
      assert.equal(before - (await api.credit(user)), 4);
    });
  });

  if (shards > 1) {
    describe(`checkouts whose items live on different shards (${shards} shards)`, () => {
      /** A new item on each stock shard, with `units` in stock at price 1. */
      async function itemPerShard(units: number): Promise<string[]> {
        const found = new Map<number, string>();
        while (found.size < shards) {
          const item = await api.createItem(1, units);
          found.set(shardIndex(item, shards), item);
        }
        return [...found].sort(([a], [b]) => a - b).map(([, item]) => item);
      }

      test('batch_init spreads entities over every shard, each on the shard its id hashes to and no other', async () => {
        const n = 1_000;
        await api.ok(`/stock/batch_init/${n}/10/1`);
        await api.ok(`/payment/batch_init/${n}/10`);
        await api.ok(`/orders/batch_init/${n}/${n}/${n}/1`);
        for (const [service, prefix] of [['stock', ITEM_PREFIX], ['payment', USER_PREFIX], ['order', ORDER_PREFIX]] as const) {
          const onShard = await Promise.all(
            Array.from({ length: shards }, async (_, k) => {
              const primary = await system.cluster.currentPrimary(shardGroupName(service, k));
              const redis = new Redis({ host: primary.host, port: primary.port, password: system.cluster.password });
              try {
                const ids = Array.from({ length: n }, (_, i) => String(i));
                const pipeline = redis.pipeline();
                for (const id of ids) pipeline.exists(prefix + id);
                const found = ((await pipeline.exec()) ?? []).map(([, v]) => v);
                return ids.filter((_, i) => found[i] === 1);
              } finally {
                redis.disconnect();
              }
            }),
          );
          onShard.forEach((ids, k) => {
            assert.ok(ids.length > n / shards / 2, `${service} shard ${k} holds ${ids.length} of ${n}`);
            assert.deepEqual(ids.filter((id) => shardIndex(id, shards) !== k), [], `${service} shard ${k} holds only its own ids`);
          });
          assert.equal(onShard.flat().length, n, `every ${service} entity on exactly one shard`);
        }
      });

      test('an order over every shard checks out; a refusal at the last shard changes nothing anywhere', async () => {
        const items = await itemPerShard(5);
        const user = await api.createUser(100);
        const order = await api.createOrder(user, items.map((i) => [i, 2]));
        assert.equal((await api.post(`/orders/checkout/${order}`)).status, 200);
        for (const item of items) assert.equal(await api.stock(item), 3);
        assert.equal(await api.credit(user), 100 - 2 * shards);
        // The last shard is asked last: every shard before it held first, and must give back.
        const greedy = await api.createOrder(user, items.map((i, k) => [i, k === shards - 1 ? 4 : 1]));
        const refused = await api.post<{ code?: string }>(`/orders/checkout/${greedy}`);
        assert.equal(refused.status, 400);
        assert.equal(refused.body.code, 'OUT_OF_STOCK');
        for (const item of items) assert.equal(await api.stock(item), 3);
        assert.equal(await api.credit(user), 100 - 2 * shards);
      });

      test('orders naming the same items in opposite orders, all at once, all finish: exactly the stock is sold', async () => {
        const items = await itemPerShard(40);
        const users = await inParallel(20, Array.from({ length: 100 }, () => () => api.createUser(10)));
        const orders = await inParallel(
          20,
          users.map((u, k) => () => api.createOrder(u, (k % 2 === 0 ? items : [...items].reverse()).map((i) => [i, 1]))),
        );
        const statuses = await inParallel(100, orders.map((o) => async () => (await api.post(`/orders/checkout/${o}`)).status));
        const counts: Record<number, number> = {};
        for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
        assert.deepEqual(counts, { 200: 40, 400: 60 });
        for (const item of items) assert.equal(await api.stock(item), 0);
        const credits = await inParallel(20, users.map((u) => () => api.credit(u)));
        assert.equal(100 * 10 - credits.reduce((a, b) => a + b, 0), 40 * shards);
      });
    });
  }
}
