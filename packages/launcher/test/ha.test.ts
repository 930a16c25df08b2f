/**
 * Redis HA through the supervisor: SIGKILL a group's primary, the Sentinels elect another,
 * and the supervisor brings the old one back as a replica of the new primary (never as a
 * second primary), with the acknowledged data intact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../src/cluster.js';
import { which } from '../src/prereqs.js';
import { waitFor } from '@shop/common/probes.js';
import { redisCall, replicationInfo, sentinelReplicaPriorities } from '@shop/common/replication/one-shot.js';

const missing = ['redis-server', 'redis-sentinel'].filter((b) => which(b) === undefined);

describe('HA failover and rejoin', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ layout: 'ha', services: false, gateway: false });
    // Without services no replica guard runs: make the stock replicas promotable as it would.
    const primary = await cluster.currentPrimary('stock');
    const replicas = cluster.topology.redis.filter((n) => n.group === 'stock' && n.name !== primary.name);
    for (const r of replicas) await redisCall(r, cluster.password, ['CONFIG', 'SET', 'replica-priority', '100']);
    await waitFor(
      'every Sentinel to see the stock replicas promotable',
      async () => {
        for (const s of cluster.topology.sentinels) {
          const seen = await sentinelReplicaPriorities(s, cluster.password, 'stock');
          if (!replicas.every((r) => seen.get(`${r.host}:${r.port}`) === 100)) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });

  after(async () => {
    await cluster?.stop();
  });

  it('starts each group as one primary with two synced replicas, none promotable yet', async () => {
    for (const group of ['order', 'payment'] as const) {
      const primary = await cluster.currentPrimary(group);
      assert.equal(primary.name, `${group}-redis-0`);
      const info = await replicationInfo(primary, cluster.password);
      assert.equal(info.role, 'master');
      assert.equal(info.onlineReplicas, 2);
      for (const n of cluster.topology.redis.filter((m) => m.group === group)) {
        assert.deepEqual(await redisCall(n, cluster.password, ['CONFIG', 'GET', 'replica-priority']), ['replica-priority', '0']);
      }
    }
  });

  it('rejoins a killed primary as a replica of the new one', async () => {
    const old = await cluster.currentPrimary('stock');
    await redisCall(old, cluster.password, ['SET', 'ha-test-key', 'kept']);
    // The write counts once both replicas have it (what the services wait for while both answer).
    assert.equal(Number(await redisCall(old, cluster.password, ['WAIT', 2, 1000])), 2);
    const proc = cluster.process(old.name);
    const startsBefore = proc.starts;
    proc.signal('SIGKILL');

    let fresh = old;
    await waitFor(
      'the Sentinels to elect a new stock primary',
      async () => {
        fresh = await cluster.currentPrimary('stock');
        return fresh.name !== old.name;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await waitFor('the supervisor to restart the old primary', () => Promise.resolve(proc.starts > startsBefore && proc.pid !== undefined), {
      timeoutMs: 15_000,
    });
    await waitFor(
      'the old primary to sync as a replica of the new one',
      async () => {
        const info = await replicationInfo(old, cluster.password);
        return info.role === 'slave' && info.masterPort === fresh.port && info.masterLinkUp === true;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    assert.equal(await redisCall(fresh, cluster.password, ['GET', 'ha-test-key']), 'kept');
    assert.equal(await redisCall(old, cluster.password, ['GET', 'ha-test-key']), 'kept');
    // Back unpromotable whatever its config file says (Sentinel's CONFIG REWRITE may have saved 100).
    assert.deepEqual(await redisCall(old, cluster.password, ['CONFIG', 'GET', 'replica-priority']), ['replica-priority', '0']);
    await cluster.waitHealthy(15_000);
  });
});
