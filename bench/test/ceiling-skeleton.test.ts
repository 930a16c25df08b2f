/**
 * The ceiling skeleton on a real topology: nginx from the launcher's generated config, an HA
 * Redis group per service (primary + 2 replicas), its three Node processes. One checkout
 * through the gateway answers 200 and leaves its records on the primaries and, by the WAIT
 * rule, on every replica before that answer; a resent checkout replays, taking nothing twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { which } from '@shop/launcher/prereqs.js';
import { readRecords, startSkeleton, type Skeleton } from '../ceiling/skeleton.js';

const missing = ['redis-server', 'redis-sentinel', 'nginx'].filter((b) => which(b) === undefined);

async function get(cluster: Cluster, node: { host: string; port: number }, key: string): Promise<string | null> {
  const r = new Redis({ host: node.host, port: node.port, password: cluster.password });
  try {
    return await r.get(key);
  } finally {
    r.disconnect();
  }
}

describe('ceiling skeleton', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, () => {
  let cluster: Cluster | undefined;
  let skeleton: Skeleton | undefined;

  before(async () => {
    cluster = await startCluster({ layout: 'ha', replicas: 1, services: false });
    await cluster.waitHealthy(60_000);
    skeleton = await startSkeleton(cluster);
  });

  after(async () => {
    await skeleton?.stop();
    await cluster?.stop();
  });

  it('answers a checkout through the gateway with 200 once its records are on every replica', async () => {
    const c = cluster!;
    const res = await fetch(`${c.gatewayUrl}/orders/checkout/100042`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
    assert.deepEqual(await readRecords(c), { begins: 1, commits: 1, aborts: 0, stockTakes: 1, paymentTakes: 1 });
    // Order 100042 buys item 42 for user 42; every Redis of a group holds what its primary
    // acknowledged, since WAIT 2 preceded the answer.
    for (const n of c.redis.order) assert.equal(await get(c, n, 'ceiling:100042:decision'), 'commit', n.name);
    for (const n of c.redis.stock) assert.equal(await get(c, n, 'ceiling:stock:item:42'), String(1_000_000_000 - 1), n.name);
    for (const n of c.redis.payment) assert.equal(await get(c, n, 'ceiling:payment:tx:100042'), '1', n.name);
  });

  it('replays a resent checkout without taking again', async () => {
    const c = cluster!;
    const res = await fetch(`${c.gatewayUrl}/orders/checkout/100042`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await readRecords(c), { begins: 1, commits: 1, aborts: 0, stockTakes: 1, paymentTakes: 1 });
    const primary = await c.currentPrimary('stock');
    assert.equal(await get(c, primary, 'ceiling:stock:item:42'), String(1_000_000_000 - 1));
  });

  it('leaves what the gateway does not route to the skeleton to the gateway', async () => {
    const res = await fetch(`${cluster!.gatewayUrl}/orders/checkout/not-a-number`, { method: 'POST' });
    assert.ok(res.status >= 400 && res.status < 500, String(res.status));
  });
});
