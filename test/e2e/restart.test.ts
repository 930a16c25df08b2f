/**
 * Restart safety: stopping the whole HA cluster and starting it again on the same data
 * keeps every answered write, after a failover too, and checkouts go on exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { ShopClient } from '@shop/launcher/api.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'shop-restart-'));
let cluster: Cluster | undefined;
after(async () => {
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function waitForNewPrimary(c: Cluster, old: { port: number }): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await c.currentPrimary('stock')).port === old.port) {
    if (Date.now() > deadline) throw new Error('no failover within 20 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('all data survives a stop and start of everything, also after a failover', async () => {
  cluster = await startCluster({ layout: 'ha', replicas: 1, dataDir });
  let api = new ShopClient(cluster.gatewayUrl, 4);
  const item = await api.createItem(3, 10);
  const user = await api.createUser(100);
  const paid = await api.createOrder(user, [[item, 2]]);
  const open = await api.createOrder(user, [[item, 1]]);
  assert.equal((await api.post(`/orders/checkout/${paid}`)).status, 200);

  // A failover of the stock group before the stop: the new primary must be the one kept.
  const oldPrimary = await cluster.currentPrimary('stock');
  cluster.process(oldPrimary.name).signal('SIGKILL');
  await waitForNewPrimary(cluster, oldPrimary);
  await cluster.waitHealthy(60_000);
  assert.equal((await api.post(`/stock/add/${item}/5`)).status, 200);

  const ports = cluster.ports;
  await api.close();
  await cluster.stop();
  cluster = await startCluster({ layout: 'ha', replicas: 1, dataDir, ports });
  api = new ShopClient(cluster.gatewayUrl, 4);
  try {
    assert.deepEqual((await api.get(`/stock/find/${item}`)).body, { stock: 13, price: 3 });
    assert.equal(await api.credit(user), 94);
    assert.equal((await api.order(paid)).paid, true);
    assert.equal((await api.order(open)).paid, false);
    assert.equal((await api.post(`/orders/checkout/${paid}`)).status, 200);
    assert.equal((await api.post(`/orders/checkout/${open}`)).status, 200);
    assert.equal(await api.stock(item), 12);
    assert.equal(await api.credit(user), 91);
  } finally {
    await api.close();
  }
});
