/**
 * Every query of the Grafana dashboard in deploy/ selects metrics the services really
 * export, with labels and label values they really carry: read from the /metrics of every
 * replica of a running cluster after a little traffic (a committed and a refused checkout).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { ShopClient } from '@shop/launcher/api.js';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { repoRoot } from '@shop/launcher/entry.js';
import { checkQuery, readExposition, type Exposition } from '../support/promql.js';

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}
const dashboard = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'deploy', 'grafana', 'dashboards', 'shop.json'), 'utf8')) as Dashboard;

let cluster: Cluster;
let exported: Exposition;

before(async () => {
  cluster = await startCluster({ layout: 'ha', replicas: 1 });
  const api = new ShopClient(cluster.gatewayUrl, 4);
  try {
    const item = await api.createItem(5, 10);
    const user = await api.createUser(100);
    assert.equal((await api.post(`/orders/checkout/${await api.createOrder(user, [[item, 1]])}`)).status, 200);
    assert.equal((await api.post(`/orders/checkout/${await api.createOrder(user)}`)).status, 400);
  } finally {
    await api.close();
  }
  exported = new Map();
  for (const replica of Object.values(cluster.services).flat()) {
    const res = await request(`${replica.internalUrl}/metrics`);
    assert.equal(res.statusCode, 200, replica.name);
    readExposition(await res.body.text(), exported);
  }
});
after(async () => cluster?.stop());

describe('the Grafana dashboard', () => {
  test('queries only metrics, labels and label values the services export', () => {
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    assert.ok(queries.length >= 8);
    const problems = queries.flatMap((q) => checkQuery(q.expr, exported).map((p) => `${q.panel}: ${p} in ${q.expr}`));
    assert.deepEqual(problems, []);
  });

  test('the check catches a misspelt metric, label or label value', () => {
    assert.deepEqual(checkQuery('sum by (outcome) (rate(shop_checkout_total[1m]))', exported), [
      'shop_checkout_total is not exported',
      'no selected metric has the label outcome it groups by',
    ]);
    assert.deepEqual(checkQuery('rate(shop_checkouts_total{outcome="commited"}[1m])', exported).length, 1);
    assert.deepEqual(checkQuery('sum by (servce) (rate(shop_http_requests_total{surfce="public"}[1m]))', exported), [
      'shop_http_requests_total has no label surfce',
      'no selected metric has the label servce it groups by',
    ]);
  });
});
