/**
 * Redis HA through the supervisor: SIGKILL a group's primary, the Sentinels elect another,
 * and the supervisor brings the old one back as a replica of the new primary (never as a
 * second primary), with the acknowledged data intact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../src/cluster.js';
import { which } from '../src/prereqs.js';
import { killPrimaryAfterWrite } from './failover.js';
import { waitFor } from '@shop/common/probes.js';
import { Redis } from 'ioredis';
import { createLogger } from '@shop/common/log.js';
import { DurableWriter } from '@shop/common/redis.js';
import { ReplicaGuard } from '@shop/common/replication/guard.js';
import { redisCall, replicationInfo, sentinelReplicaPriorities } from '@shop/common/replication/one-shot.js';
import { PROMOTABLE_KEY } from '@shop/common/replication/promotable.js';

const missing = ['redis-server', 'redis-sentinel'].filter((b) => which(b) === undefined);

/**
 * Without services no replica guard runs: make a group's replicas promotable as it would.
 * It follows the group's primary while it waits: with a 1 s down-after, a Sentinel that has
 * just switched to a new primary can count it down before its first PING is answered and
 * fail it over again (seen in CI right after the previous test's failovers), and then the
 * priorities that count are those of the next primary's replicas.
 */
async function makeReplicasPromotable(cluster: Cluster, group: 'stock'): Promise<void> {
  let seen = 'nothing yet';
  await waitFor(
    `every Sentinel to see the ${group} replicas promotable`,
    async () => {
      const primary = await cluster.currentPrimary(group);
      const replicas = cluster.topology.redis.filter((n) => n.group === group && n.name !== primary.name);
      for (const r of replicas) await redisCall(r, cluster.password, ['CONFIG', 'SET', 'replica-priority', '100']).catch(() => undefined);
      for (const s of cluster.topology.sentinels) {
        const priorities = await sentinelReplicaPriorities(s, cluster.password, group).catch(() => new Map<string, number>());
        seen = `primary ${primary.name}; Sentinel ${s.port} lists ${JSON.stringify([...priorities])}`;
        if (!replicas.every((r) => priorities.get(`${r.host}:${r.port}`) === 100)) return false;
      }
      return true;
    },
    // Sentinel reads a replica's priority from INFO every 10 s, and not at all while paused.
    { timeoutMs: 60_000, intervalMs: 250, lastSeen: () => seen },
  );
}

/** The replica guard a stock service would run, on a connection to `node`. */
function guardOn(node: { host: string; port: number }, cluster: Cluster): { redis: Redis; writer: DurableWriter; guard: ReplicaGuard } {
  const redis = new Redis({ host: node.host, port: node.port, password: cluster.password });
  const writer = new DurableWriter(redis, 2, 100, 3_000);
  const guard = new ReplicaGuard({
    redis,
    writer,
    sentinels: cluster.topology.sentinels,
    group: 'stock',
    password: cluster.password,
    owner: 'ha-test',
    log: createLogger('test', 'ha-test', 'silent'),
  });
  return { redis, writer, guard };
}

describe('HA failover and rejoin', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ layout: 'ha', services: false, gateway: false });
    await makeReplicasPromotable(cluster, 'stock');
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
    const { old, fresh } = await killPrimaryAfterWrite(cluster, 'stock', 'ha-test-key', 15_000);
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

  it('keeps a confirmed write when a primary dies right after its election, with a Sentinel just back from a pause', async () => {
    await makeReplicasPromotable(cluster, 'stock');
    const first = await cluster.currentPrimary('stock');
    // sentinel-0 is asked first; paused through a failover, it still names the old primary
    // for a moment after it resumes.
    const stale = cluster.process('sentinel-0');
    stale.signal('SIGSTOP');
    let second = first;
    let acknowledged = 'nothing yet';
    try {
      cluster.process(first.name).signal('SIGKILL');
      await waitFor(
        'the other two Sentinels to elect a new stock primary',
        async () => {
          second = await cluster.currentPrimary('stock').catch(() => first);
          return second.name !== first.name;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      // Refused (NOREPLICAS) until a replica has synced with the new primary. Followed,
      // should the two Sentinels fail the new primary over again (see makeReplicasPromotable).
      await waitFor(
        'the new primary to take a write that both replicas acknowledge',
        async () => {
          second = await cluster.currentPrimary('stock').catch(() => second);
          await redisCall(second, cluster.password, ['SET', 'stale-sentinel-key', 'kept']).catch(() => undefined);
          // Both replicas are promotable here, so the write counts once both have it.
          const acked = await redisCall(second, cluster.password, ['WAIT', 2, 500]).catch((e: Error) => e.message);
          acknowledged = `${second.name}: ${String(acked)}`;
          return Number(acked) >= 2;
        },
        { timeoutMs: 15_000, intervalMs: 100, lastSeen: () => `WAIT on ${acknowledged}` },
      );
    } finally {
      stale.signal('SIGCONT');
    }
    // At once, before sentinel-0 hears of the failover: the new primary dies and restarts.
    cluster.process(second.name).signal('SIGKILL');

    let third = second;
    await waitFor(
      'a stock primary that takes writes again',
      async () => {
        third = await cluster.currentPrimary('stock').catch(() => second);
        if (third.name === second.name) return false;
        const role = (await redisCall(third, cluster.password, ['ROLE']).catch(() => [])) as unknown[];
        return role[0] === 'master';
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.equal(await redisCall(third, cluster.password, ['GET', 'stale-sentinel-key']), 'kept');
    await waitFor(
      'the restarted primary to replicate from the new one',
      async () => {
        const info = await replicationInfo(second, cluster.password).catch(() => undefined);
        return info?.role === 'slave' && info.masterPort === third.port && info.masterLinkUp === true;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await cluster.waitHealthy(20_000);
  });

  it('keeps a primary paused through a failover in the set: the new primary confirms no write until it is back, then fences it at once', async () => {
    await makeReplicasPromotable(cluster, 'stock');
    const old = await cluster.currentPrimary('stock');
    const oldId = `${old.host}:${old.port}`;
    // The guard a stock service runs on the primary: it puts the primary itself in the set.
    const onOld = guardOn(old, cluster);
    onOld.guard.start();
    try {
      await waitFor('the primary to join its own promotable set', async () => (await onOld.redis.smembers(PROMOTABLE_KEY)).includes(oldId), {
        timeoutMs: 10_000,
        intervalMs: 50,
      });
    } finally {
      await onOld.guard.stop();
      onOld.redis.disconnect();
    }
    const paused = cluster.process(old.name);
    paused.signal('SIGSTOP');
    let fresh = old;
    let onFresh: ReturnType<typeof guardOn> | undefined;
    try {
      await waitFor(
        'the Sentinels to elect a new stock primary',
        async () => {
          fresh = await cluster.currentPrimary('stock').catch(() => old);
          return fresh.name !== old.name;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      onFresh = guardOn(fresh, cluster);
      const { redis, writer, guard } = onFresh;
      // The set failed over with the data: the paused old primary is in it.
      assert.ok((await redis.smembers(PROMOTABLE_KEY)).includes(oldId));
      // Sentinel lists it at priority 100 once it answers: a write it lacks is not confirmed.
      await redis.set('ha-paused-primary', 'unconfirmed');
      await assert.rejects(writer.confirm(writer.currentEpoch), /not acknowledged/);

      guard.start();
      paused.signal('SIGCONT');
      // Sentinel itself reconfigures it only 8 s after it first reports itself a primary.
      await waitFor(
        'the stale primary to replicate from the new one',
        async () => {
          const info = await replicationInfo(old, cluster.password).catch(() => undefined);
          return info?.role === 'slave' && info.masterPort === fresh.port;
        },
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      await redis.set('ha-paused-primary', 'confirmed');
      await writer.confirm(writer.currentEpoch);
      assert.equal(await redisCall(old, cluster.password, ['GET', 'ha-paused-primary']), 'confirmed');
    } finally {
      paused.signal('SIGCONT');
      await onFresh?.guard.stop();
      onFresh?.redis.disconnect();
    }
    await cluster.waitHealthy(20_000);
  });
});
