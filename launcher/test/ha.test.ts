/**
 * Redis HA through the supervisor: SIGKILL a group's primary, the Sentinels elect another,
 * and the supervisor brings the old one back as a replica of the new primary (never as a
 * second primary), with the acknowledged data intact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../../test/harness/cluster.js';
import { which } from '../prereqs.js';
import { waitFor } from '../probes.js';
import { redisCall, replicationInfo } from '../redis-client.js';

const missing = ['redis-server', 'redis-sentinel'].filter((b) => which(b) === undefined);

describe('HA failover and rejoin', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ layout: 'ha', services: false, gateway: false });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('starts each group as one primary with two synced replicas', async () => {
    for (const group of ['order', 'stock', 'payment'] as const) {
      const primary = await cluster.currentPrimary(group);
      assert.equal(primary.name, `${group}-redis-0`);
      const info = await replicationInfo(primary, cluster.password);
      assert.equal(info.role, 'master');
      assert.equal(info.onlineReplicas, 2);
    }
  });

  it('rejoins a killed primary as a replica of the new one', async () => {
    const old = await cluster.currentPrimary('stock');
    await redisCall(old, cluster.password, ['SET', 'ha-test-key', 'kept']);
    // The write counts once a replica has it (what the services do with REDIS_ACK_REPLICAS=1).
    assert.ok(Number(await redisCall(old, cluster.password, ['WAIT', 1, 1000])) >= 1);
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
    await cluster.waitHealthy(15_000);
  });
});
