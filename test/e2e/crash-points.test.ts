/**
 * The coordinator dies at each named step of a checkout (SHOP_CRASH_POINT, a switch only
 * tests use). For every point: without any retry, recovery finishes the checkout all or
 * nothing within seconds; the retried request then answers the truth and charges nothing more.
 */
import { ACTIVE_KEY } from '@shop/order/keys.js';
import { userKey } from '@shop/payment/keys.js';
import { itemKey } from '@shop/stock/keys.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { CRASH_POINTS } from '@shop/order/checkout.js';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { ShopClient } from '@shop/launcher/api.js';

/** Posts a checkout straight to one replica; undefined when the connection dropped. */
async function checkoutAt(publicUrl: string, orderId: string): Promise<number | undefined> {
  const direct = new ShopClient(publicUrl, 1);
  try {
    return (await direct.post(`/checkout/${orderId}`)).status;
  } catch {
    return undefined;
  } finally {
    await direct.close().catch(() => undefined);
  }
}

async function waitQuiescent(cluster: Cluster, timeoutMs = 15_000): Promise<number> {
  const addr = cluster.redis.order[0]!;
  const redis = new Redis({ host: addr.host, port: addr.port, password: cluster.password, maxRetriesPerRequest: 3 });
  const start = Date.now();
  try {
    while ((await redis.zcard(ACTIVE_KEY)) > 0) {
      if (Date.now() - start > timeoutMs) throw new Error(`checkouts still unfinished after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return Date.now() - start;
  } finally {
    redis.disconnect();
  }
}

async function heldAmounts(cluster: Cluster, itemId: string, userId: string): Promise<[number, number]> {
  const read = async (group: 'stock' | 'payment', key: string) => {
    const addr = cluster.redis[group][0]!;
    const redis = new Redis({ host: addr.host, port: addr.port, password: cluster.password });
    try {
      return Number(await redis.hget(key, 'h'));
    } finally {
      redis.disconnect();
    }
  };
  return [await read('stock', itemKey(itemId)), await read('payment', userKey(userId))];
}

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Retries through the gateway until the answer is definite (2xx or 4xx). */
async function settle(api: ShopClient, orderId: string): Promise<number> {
  for (let i = 0; i < 30; i++) {
    try {
      const { status } = await api.post(`/orders/checkout/${orderId}`);
      if (status < 500) return status;
    } catch {
      // dropped connection: indeterminate, ask again
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`checkout of ${orderId} never answered definitely`);
}

let cluster: Cluster;
let api: ShopClient;

/**
 * A cluster for the enclosing suite in which only order-0 carries the crash switch (it is
 * restarted with it); order-1 stays healthy.
 */
function useCrashCluster(setting: string): void {
  before(async () => {
    cluster = await startCluster({ layout: 'single', replicas: 2, serviceEnv: { order: { SHOP_CRASH_POINT: setting } } });
    api = new ShopClient(cluster.gatewayUrl, 8);
  });
  after(async () => {
    await api?.close();
    await cluster?.stop();
  });
}

for (const point of CRASH_POINTS) {
  describe(`coordinator killed ${point}`, () => {
    useCrashCluster(`${point}@order-0`);

    test('a checkout that can commit is finished by recovery, and a retry answers 200 without charging again', async () => {
      const item = await api.createItem(5, 10);
      const user = await api.createUser(100);
      const order = await api.createOrder(user, [[item, 2]]);
      const startsBefore = cluster.process('order-0').starts;
      const first = await checkoutAt(cluster.services.order[0]!.publicUrl, order);
      assert.ok(first === undefined || first === 200, `the dying replica answered ${first}`);
      await waitUntil(() => cluster.process('order-0').starts > startsBefore, 'order-0 to die and be restarted');

      await waitQuiescent(cluster);
      assert.equal((await api.order(order)).paid, true);
      assert.equal(await api.stock(item), 8);
      assert.equal(await api.credit(user), 90);
      assert.deepEqual(await heldAmounts(cluster, item, user), [0, 0]);

      assert.equal(await settle(api, order), 200);
      await waitQuiescent(cluster);
      assert.equal(await api.stock(item), 8);
      assert.equal(await api.credit(user), 90);
    });

    test('a checkout refused for credit is undone completely, and a retry answers 400', async () => {
      const item = await api.createItem(5, 10);
      const user = await api.createUser(9);
      const order = await api.createOrder(user, [[item, 2]]);
      const first = await checkoutAt(cluster.services.order[0]!.publicUrl, order);
      assert.ok(first === undefined || first === 400, `the dying replica answered ${first}`);

      await waitQuiescent(cluster);
      assert.equal((await api.order(order)).paid, false);
      assert.equal(await api.stock(item), 10);
      assert.equal(await api.credit(user), 9);
      assert.deepEqual(await heldAmounts(cluster, item, user), [0, 0]);

      assert.equal(await settle(api, order), 400);
      await waitQuiescent(cluster);
      assert.equal(await api.stock(item), 10);
      assert.equal(await api.credit(user), 9);
    });
  });
}

describe('a coordinator dying under a request sent through the gateway', () => {
  useCrashCluster('after-payment-reserve@order-0');

  test('nginx re-sends the checkout to another replica, which answers the true outcome: never a 5xx', async () => {
    const item = await api.createItem(1, 100);
    const user = await api.createUser(100);
    const startsBefore = cluster.process('order-0').starts;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const order = await api.createOrder(user, [[item, 1]]);
      statuses.push((await api.post(`/orders/checkout/${order}`)).status);
      await waitUntil(() => cluster.process('order-0').pid !== undefined, 'order-0 to be back');
    }
    assert.deepEqual(statuses, Array<number>(8).fill(200));
    assert.ok(cluster.process('order-0').starts > startsBefore, 'order-0 died at least once under a request');
    await waitQuiescent(cluster);
    assert.equal(await api.stock(item), 92);
    assert.equal(await api.credit(user), 92);
  });
});
