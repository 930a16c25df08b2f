/**
 * A sharded data tier: two Redis groups per service, all six watched by the same three
 * Sentinels. Each shard must fail over on its own: SIGKILL of a shard-1 primary elects one of
 * that shard's replicas and leaves every other group's primary where it was.
 *
 * With services: each service replica runs a replica guard per shard (replication/guard.ts),
 * and only a guard makes a replica promotable, so shard 1 failing over proves its guard ran.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster, type RedisAddress } from '../src/cluster.js';
import { which } from '../src/prereqs.js';
import { killPrimaryAfterWrite } from './failover.js';
import { waitFor } from '@shop/common/probes.js';
import { redisCall, replicationInfo, sentinelReplicaPriorities } from '@shop/common/replication/one-shot.js';

const missing = ['redis-server', 'redis-sentinel'].filter((b) => which(b) === undefined);
const GROUPS = ['order', 'stock', 'payment', 'order-s1', 'stock-s1', 'payment-s1'];

/** What every Sentinel names as the group's primary: `host:port`, or why it did not. */
async function sentinelViews(cluster: Cluster, group: string): Promise<string[]> {
  return Promise.all(
    cluster.sentinels.map((s) =>
      redisCall(s, cluster.password, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', group]).then(
        (a) => (Array.isArray(a) ? a.join(':') : `no answer: ${String(a)}`),
        (err: unknown) => `error: ${(err as Error).message}`,
      ),
    ),
  );
}

/** One primary with two online replicas that follow it, named alike by every Sentinel. */
async function assertWhole(cluster: Cluster, group: string): Promise<RedisAddress> {
  const primary = await cluster.currentPrimary(group);
  const info = await replicationInfo(primary, cluster.password);
  assert.equal(info.role, 'master', `${group}: ${primary.name} is a master`);
  assert.equal(info.onlineReplicas, 2, `${group}: two replicas online`);
  const nodes = cluster.groups[group] ?? [];
  assert.equal(nodes.length, 3);
  for (const n of nodes.filter((x) => x.name !== primary.name)) {
    const r = await replicationInfo(n, cluster.password);
    assert.equal(r.role, 'slave', `${n.name} is a replica`);
    assert.equal(r.masterPort, primary.port, `${n.name} follows ${primary.name}`);
  }
  assert.deepEqual(await sentinelViews(cluster, group), cluster.sentinels.map(() => `${primary.host}:${primary.port}`), `${group}: every Sentinel names ${primary.name}`);
  return primary;
}

/** Waits for the group's replica guard to have made both replicas promotable, as every Sentinel sees them. */
async function waitPromotable(cluster: Cluster, group: string): Promise<void> {
  const primary = await cluster.currentPrimary(group);
  const replicas = (cluster.groups[group] ?? []).filter((n) => n.name !== primary.name);
  await waitFor(
    `every Sentinel to see the ${group} replicas promotable`,
    async () => {
      for (const s of cluster.sentinels) {
        const seen = await sentinelReplicaPriorities(s, cluster.password, group).catch(() => new Map<string, number>());
        if (!replicas.every((r) => seen.get(`${r.host}:${r.port}`) === 100)) return false;
      }
      return true;
    },
    // Sentinel reads a replica's priority from INFO every 10 s.
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

describe('sharded data tier: two Redis groups per service', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ layout: 'ha', shards: 2, replicas: 1, console: true });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('starts six groups, each one primary with two replicas, every Sentinel agreeing on each', async () => {
    assert.equal(cluster.shards, 2);
    assert.deepEqual(Object.keys(cluster.groups), GROUPS);
    assert.deepEqual(
      cluster.redis.stock.map((n) => n.name),
      ['stock-redis-0', 'stock-redis-1', 'stock-redis-2'],
      'cluster.redis still names shard 0',
    );
    for (const g of GROUPS) assert.equal((await assertWhole(cluster, g)).name, `${g}-redis-0`);
  });

  it('the operator console shows every group with the primary the Sentinels name', async () => {
    interface Group {
      group: string;
      service: string;
      shard: number;
      primary: string | null;
      nodes: unknown[];
    }
    let groups: Group[] = [];
    await waitFor(
      'the console to sample every group',
      async () => {
        const res = await fetch(`${cluster.consoleUrl}/api/state`);
        groups = ((await res.json()) as { groups: Group[] }).groups;
        return groups.length === GROUPS.length && groups.every((g) => g.primary !== null);
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    assert.deepEqual(
      groups.map((g) => [g.group, g.service, g.shard, g.primary, g.nodes.length]),
      GROUPS.map((g) => [g, g.replace(/-s1$/, ''), g.endsWith('-s1') ? 1 : 0, `${g}-redis-0`, 3]),
    );
  });

  it('fails over a SIGKILLed shard-1 primary within its shard; every other group keeps its primary', async () => {
    await waitPromotable(cluster, 'stock-s1');
    const before = new Map<string, string>();
    for (const g of GROUPS) before.set(g, (await cluster.currentPrimary(g)).name);
    assert.equal((await cluster.currentPrimary('stock-s1')).name, 'stock-s1-redis-0');
    const { fresh } = await killPrimaryAfterWrite(cluster, 'stock-s1', 'shard-test-key', 20_000);
    assert.match(fresh.name, /^stock-s1-redis-[12]$/);
    await cluster.waitHealthy(30_000);

    const shard1 = await assertWhole(cluster, 'stock-s1');
    assert.equal(shard1.name, fresh.name, 'the restarted server rejoined as a replica, not a second primary');
    assert.equal(await redisCall(fresh, cluster.password, ['GET', 'shard-test-key']), 'kept');
    for (const g of GROUPS.filter((x) => x !== 'stock-s1')) {
      assert.equal((await assertWhole(cluster, g)).name, before.get(g), `${g} keeps its primary`);
    }
    assert.equal(await redisCall(await cluster.currentPrimary('stock'), cluster.password, ['EXISTS', 'shard-test-key']), 0, 'shard 0 never saw the key');
  });
});
