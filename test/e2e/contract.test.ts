/**
 * Every route of API.md through the real nginx gateway, with every class of bad input:
 * each refusal is a 400 with a JSON error and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { ShopClient, type Answer } from '@shop/launcher/api.js';

let cluster: Cluster;
let api: ShopClient;

before(async () => {
  cluster = await startCluster({ layout: 'single', replicas: 2 });
  api = new ShopClient(cluster.gatewayUrl);
});
after(async () => {
  await api?.close();
  await cluster?.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BAD_NUMBERS = ['-5', '1.5', 'abc', '1e3', '9007199254740992', '99999999999999999999', '%20', '0x10'];

function assertRefused(a: Answer, status: number, code?: string): void {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.match(a.contentType, /^application\/json/);
  assert.equal(typeof a.body.error, 'string');
  assert.equal(typeof a.body.code, 'string');
  if (code !== undefined) assert.equal(a.body.code, code);
}

describe('stock', () => {
  test('create, find, add, subtract', async () => {
    const created = await api.post('/stock/item/create/7');
    assert.equal(created.status, 200);
    assert.match(created.contentType, /^application\/json/);
    const id = created.body.item_id as string;
    assert.match(id, UUID);
    assert.deepEqual((await api.get(`/stock/find/${id}`)).body, { stock: 0, price: 7 });
    assert.deepEqual((await api.post(`/stock/add/${id}/10`)).body, { item_id: id, stock: 10 });
    assert.deepEqual((await api.post(`/stock/subtract/${id}/4`)).body, { item_id: id, stock: 6 });
    assert.deepEqual((await api.post(`/stock/add/${id}/0`)).body, { item_id: id, stock: 6 });
  });

  test('subtracting below zero is refused and changes nothing', async () => {
    const id = await api.createItem(1, 3);
    assertRefused(await api.post(`/stock/subtract/${id}/4`), 400, 'OUT_OF_STOCK');
    assert.equal(await api.stock(id), 3);
  });

  test('unknown items are refused', async () => {
    assertRefused(await api.get('/stock/find/nope'), 400, 'UNKNOWN_ITEM');
    assertRefused(await api.post('/stock/add/nope/1'), 400, 'UNKNOWN_ITEM');
    assertRefused(await api.post('/stock/subtract/nope/1'), 400, 'UNKNOWN_ITEM');
  });

  test('bad numbers are refused and change nothing', async () => {
    const id = await api.createItem(1, 5);
    for (const bad of BAD_NUMBERS) {
      assertRefused(await api.post(`/stock/item/create/${bad}`), 400);
      assertRefused(await api.post(`/stock/add/${id}/${bad}`), 400);
      assertRefused(await api.post(`/stock/subtract/${id}/${bad}`), 400);
      assertRefused(await api.post(`/stock/batch_init/${bad}/1/1`), 400);
    }
    assert.equal(await api.stock(id), 5);
  });

  test('a sum past 2^53 - 1 is refused', async () => {
    const id = await api.createItem(1, 0);
    await api.ok(`/stock/add/${id}/${Number.MAX_SAFE_INTEGER}`);
    assertRefused(await api.post(`/stock/add/${id}/1`), 400, 'TOO_LARGE');
    assert.equal(await api.stock(id), Number.MAX_SAFE_INTEGER);
  });

  test('batch_init creates items "0".."n-1"', async () => {
    const a = await api.post('/stock/batch_init/50/20/3');
    assert.equal(a.status, 200);
    assert.equal(typeof a.body.msg, 'string');
    assert.deepEqual((await api.get('/stock/find/49')).body, { stock: 20, price: 3 });
    assertRefused(await api.get('/stock/find/50'), 400, 'UNKNOWN_ITEM');
  });
});

describe('payment', () => {
  test('create_user, find_user, add_funds, pay', async () => {
    const created = await api.post('/payment/create_user');
    const id = created.body.user_id as string;
    assert.match(id, UUID);
    assert.deepEqual((await api.get(`/payment/find_user/${id}`)).body, { user_id: id, credit: 0 });
    assert.deepEqual((await api.post(`/payment/add_funds/${id}/100`)).body, { user_id: id, credit: 100 });
    assert.deepEqual((await api.post(`/payment/pay/${id}/30`)).body, { user_id: id, credit: 70 });
    assertRefused(await api.post(`/payment/pay/${id}/71`), 400, 'INSUFFICIENT_CREDIT');
    assert.equal(await api.credit(id), 70);
  });

  test('unknown users and bad numbers are refused and change nothing', async () => {
    assertRefused(await api.get('/payment/find_user/nope'), 400, 'UNKNOWN_USER');
    assertRefused(await api.post('/payment/add_funds/nope/1'), 400, 'UNKNOWN_USER');
    assertRefused(await api.post('/payment/pay/nope/1'), 400, 'UNKNOWN_USER');
    const id = await api.createUser(9);
    for (const bad of BAD_NUMBERS) {
      assertRefused(await api.post(`/payment/add_funds/${id}/${bad}`), 400);
      assertRefused(await api.post(`/payment/pay/${id}/${bad}`), 400);
      assertRefused(await api.post(`/payment/batch_init/${bad}/1`), 400);
    }
    assert.equal(await api.credit(id), 9);
  });

  test('batch_init creates users "0".."n-1"', async () => {
    assert.equal((await api.post('/payment/batch_init/30/11')).status, 200);
    assert.deepEqual((await api.get('/payment/find_user/29')).body, { user_id: '29', credit: 11 });
  });
});

describe('orders', () => {
  test('create, addItem, find, checkout', async () => {
    const item = await api.createItem(4, 10);
    const user = await api.createUser(50);
    const created = await api.post(`/orders/create/${user}`);
    const order = created.body.order_id as string;
    assert.match(order, UUID);
    assert.deepEqual((await api.get(`/orders/find/${order}`)).body, {
      order_id: order,
      paid: false,
      items: [],
      user_id: user,
      total_cost: 0,
    });
    assert.equal((await api.post(`/orders/addItem/${order}/${item}/2`)).body.total_cost, 8);
    assert.equal((await api.post(`/orders/addItem/${order}/${item}/1`)).body.total_cost, 12);
    const checkout = await api.post(`/orders/checkout/${order}`);
    assert.equal(checkout.status, 200);
    assert.match(checkout.contentType, /^application\/json/);
    assert.deepEqual((await api.get(`/orders/find/${order}`)).body, {
      order_id: order,
      paid: true,
      // Lines of the same item merge (addItem writes O(1)).
      items: [[item, 3]],
      user_id: user,
      total_cost: 12,
    });
    assert.equal(await api.stock(item), 7);
    assert.equal(await api.credit(user), 38);
    assertRefused(await api.post(`/orders/addItem/${order}/${item}/1`), 400, 'ORDER_PAID');
  });

  test('addItem refuses unknown orders and items and bad quantities, changing nothing', async () => {
    const item = await api.createItem(4, 10);
    const order = await api.createOrder(await api.createUser(0));
    assertRefused(await api.post(`/orders/addItem/nope/${item}/1`), 400, 'UNKNOWN_ORDER');
    assertRefused(await api.post(`/orders/addItem/${order}/nope/1`), 400, 'UNKNOWN_ITEM');
    for (const bad of [...BAD_NUMBERS, '0']) assertRefused(await api.post(`/orders/addItem/${order}/${item}/${bad}`), 400);
    assert.deepEqual((await api.order(order)).items, []);
  });

  test('checkout refusals: unknown order, empty order, unknown user, out of stock, no credit', async () => {
    assertRefused(await api.post('/orders/checkout/nope'), 400, 'UNKNOWN_ORDER');
    const rich = await api.createUser(1000);
    assertRefused(await api.post(`/orders/checkout/${await api.createOrder(rich)}`), 400, 'EMPTY_ORDER');

    const item = await api.createItem(5, 2);
    const ghostOrder = await api.createOrder('ghost-user', [[item, 1]]);
    assertRefused(await api.post(`/orders/checkout/${ghostOrder}`), 400, 'UNKNOWN_USER');

    const tooMany = await api.createOrder(rich, [[item, 3]]);
    assertRefused(await api.post(`/orders/checkout/${tooMany}`), 400, 'OUT_OF_STOCK');

    const poor = await api.createUser(9);
    const tooDear = await api.createOrder(poor, [[item, 2]]);
    assertRefused(await api.post(`/orders/checkout/${tooDear}`), 400, 'INSUFFICIENT_CREDIT');

    assert.equal(await api.stock(item), 2, 'refused checkouts returned the stock');
    assert.equal(await api.credit(rich), 1000);
    assert.equal(await api.credit(poor), 9);
    for (const o of [ghostOrder, tooMany, tooDear]) assert.equal((await api.order(o)).paid, false);
    // A refused order can be fixed and checked out again: a fresh attempt.
    await api.ok(`/payment/add_funds/${poor}/1`);
    assert.equal((await api.post(`/orders/checkout/${tooDear}`)).status, 200);
    assert.equal(await api.stock(item), 0);
    assert.equal(await api.credit(poor), 0);
  });

  test('bad ids and numbers are refused', async () => {
    assertRefused(await api.post(`/orders/create/${'x'.repeat(65)}`), 400, 'BAD_ID');
    assertRefused(await api.get('/orders/find/a.b'), 400, 'BAD_ID');
    assertRefused(await api.post('/orders/checkout/a%3Ab'), 400, 'BAD_ID');
    for (const bad of BAD_NUMBERS) assertRefused(await api.post(`/orders/batch_init/${bad}/1/1/1`), 400);
    assertRefused(await api.post('/orders/batch_init/5/0/1/1'), 400);
  });

  test('batch_init creates orders of two random items of quantity 1', async () => {
    await api.ok('/stock/batch_init/10/100/3');
    await api.ok('/payment/batch_init/10/100');
    assert.equal((await api.post('/orders/batch_init/20/10/10/3')).status, 200);
    const order = await api.order('19');
    assert.equal(order.paid, false);
    assert.equal(order.total_cost, 6);
    // Two random items of quantity 1; when both draws give the same item, one line of 2.
    assert.equal(order.items.reduce((sum, [, qty]) => sum + qty, 0), 2);
    assert.ok(order.items.length === 2 || (order.items.length === 1 && order.items[0]![1] === 2));
    for (const [item] of order.items) assert.ok(Number(item) >= 0 && Number(item) < 10);
    assert.ok(Number(order.user_id) >= 0 && Number(order.user_id) < 10);
  });
});

describe('gateway', () => {
  test('bodies clients send along (empty octet-stream, JSON "{}", empty JSON, text) are ignored', async () => {
    const sent: [Record<string, string>, string | undefined][] = [
      [{ 'content-type': 'application/octet-stream' }, ''],
      [{ 'content-type': 'application/json' }, '{}'],
      [{ 'content-type': 'application/json' }, ''],
      [{ 'content-type': 'text/plain' }, 'hello'],
      [{}, undefined],
    ];
    for (const [headers, body] of sent) {
      const a = await api.call('POST', '/payment/create_user', headers, body);
      assert.equal(a.status, 200, `${JSON.stringify(headers)} ${body}: ${JSON.stringify(a.body)}`);
    }
  });

  test('unknown routes answer 404 and wrong methods 405, in JSON', async () => {
    assertRefused(await api.get('/nothing/here'), 404);
    assertRefused(await api.get('/stock/nothing'), 404);
    assertRefused(await api.get('/orders/'), 404);
    assertRefused(await api.get('/stock/add/x/1'), 405);
    assertRefused(await api.post('/stock/find/x'), 405);
    assertRefused(await api.call('DELETE', '/orders/checkout/x'), 405);
  });

  test('internal, admin and metrics routes are unreachable through the gateway', async () => {
    const internal = ['/tx/steps', '/tx/reserve', '/tx/commit', '/tx/abort', '/items/x', '/health', '/ready', '/metrics'];
    for (const prefix of ['/orders', '/stock', '/payment']) {
      for (const path of internal) {
        for (const method of ['GET', 'POST']) {
          const a = await api.call(method, prefix + path, { 'x-internal-secret': cluster.internalSecret });
          assert.ok(a.status === 404 || a.status === 405, `${method} ${prefix}${path} answered ${a.status}`);
        }
      }
    }
  });
});
