/**
 * The replica guard against a real primary, two real replicas and a real Sentinel: who it
 * makes promotable, and that it drops a member only once it cannot be promoted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createLogger } from '../src/log.js';
import { DurableWriter } from '../src/redis.js';
import { ReplicaGuard, type ReplicaGuardOptions } from '../src/replication/guard.js';
import { sentinelReplicaPriorities, sentinelReplicas } from '../src/replication/one-shot.js';
import { PROMOTABLE_KEY } from '../src/replication/promotable.js';
import { sleep, waitFor } from '../src/probes.js';
import { startTestRedis, startTestSentinel, type TestRedis } from './support/redis-server.js';

const GROUP = 'guarded';

describe('ReplicaGuard', () => {
  let primary: TestRedis;
  let replicas: [TestRedis, TestRedis];
  let sentinel: TestRedis;
  let redis: Redis;
  let writer: DurableWriter;
  const id = (server: TestRedis): string => `127.0.0.1:${server.port}`;
  const priority = async (server: TestRedis): Promise<string | undefined> =>
    ((await server.client().config('GET', 'replica-priority')) as string[])[1];
  const members = async (): Promise<string[]> => (await redis.smembers(PROMOTABLE_KEY)).sort();
  const guard = (owner: string, options: Partial<ReplicaGuardOptions> = {}): ReplicaGuard =>
    new ReplicaGuard({
      redis,
      writer,
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      group: GROUP,
      password: primary.password,
      owner,
      log: createLogger('test', owner, 'silent'),
      graceMs: 200,
      ...options,
    });

  before(async () => {
    // The primary as Sentinel promoted it (priority 100); the replicas as the launcher starts them.
    primary = await startTestRedis();
    replicas = [
      await startTestRedis({ replicaOf: primary, unpromotable: true }),
      await startTestRedis({ replicaOf: primary, unpromotable: true }),
    ];
    sentinel = await startTestSentinel(primary, GROUP);
    redis = primary.client();
    writer = new DurableWriter(redis, 2, 100, 3_000);
    await waitFor('both replicas online', async () => /connected_slaves:2/.test(await redis.info('replication')), { timeoutMs: 15_000 });
  });
  after(async () => {
    await sentinel.stop();
    for (const r of replicas) await r.stop();
    await primary.stop();
  });

  test('makes the primary and its caught-up replicas members, the replicas promotable and the primary not', async () => {
    assert.deepEqual(await members(), []);
    await guard('a').tick();
    assert.deepEqual(await members(), [id(primary), id(replicas[0]), id(replicas[1])].sort());
    assert.equal(await priority(replicas[0]), '100');
    assert.equal(await priority(replicas[1]), '100');
    assert.equal(await priority(primary), '0');
  });

  test('a guard without the lease changes nothing', async () => {
    await replicas[0].client().config('SET', 'replica-priority', '0');
    await guard('b').tick();
    assert.equal(await priority(replicas[0]), '0');
    // The lease holder puts it right.
    await guard('a').tick();
    assert.equal(await priority(replicas[0]), '100');
  });

  test('a member that cannot be reached stays a member (writes keep waiting for it)', async () => {
    const g = guard('a');
    replicas[1].signal('SIGSTOP');
    try {
      await g.tick();
      await sleep(300);
      await g.tick();
      assert.deepEqual(await members(), [id(primary), id(replicas[0]), id(replicas[1])].sort());
    } finally {
      replicas[1].signal('SIGCONT');
    }
  });

  test('a member that lags is dropped only once every Sentinel sees it unpromotable', async () => {
    const g = guard('a');
    const lagging = replicas[1];
    await waitFor('the Sentinel to see it promotable', async () => {
      const seen = await sentinelReplicaPriorities({ host: '127.0.0.1', port: sentinel.port }, primary.password, GROUP);
      return seen.get(id(lagging)) === 100;
    }, { timeoutMs: 25_000, intervalMs: 200 });
    // Cut its replication link for good, while it stays reachable (a replica that cannot sync).
    await lagging.client().config('SET', 'masterauth', 'wrong');
    await lagging.client().client('KILL', 'TYPE', 'master');
    sentinel.signal('SIGSTOP');
    try {
      await g.tick();
      await sleep(300);
      await g.tick();
      // Unpromotable at once, but a Sentinel that does not answer may still hold its old priority.
      assert.equal(await priority(lagging), '0');
      assert.deepEqual(await members(), [id(primary), id(replicas[0]), id(lagging)].sort());
    } finally {
      sentinel.signal('SIGCONT');
    }
    await waitFor(
      'the member to be dropped',
      async () => {
        await g.tick();
        return !(await members()).includes(id(lagging));
      },
      { timeoutMs: 25_000, intervalMs: 300 },
    );
    const seen = await sentinelReplicaPriorities({ host: '127.0.0.1', port: sentinel.port }, primary.password, GROUP);
    assert.equal(seen.get(id(lagging)), 0);

    // Synced again, it becomes a member and promotable again.
    await lagging.client().config('SET', 'masterauth', primary.password);
    await waitFor(
      'it to rejoin the set',
      async () => {
        await g.tick();
        return (await members()).includes(id(lagging));
      },
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    assert.equal(await priority(lagging), '100');
  });

  test('never fences a server promoted from this primary: the newer primary of a failover some Sentinel leads', async () => {
    const promoted = replicas[1];
    // What a failover's leader does to the replica it picked, while the Sentinel asked below
    // has not switched yet (here: no Sentinel leads it, so none ever switches).
    await promoted.client().replicaof('NO', 'ONE');
    try {
      await waitFor(
        'the Sentinel to list it as a replica that reports itself a primary',
        async () => {
          const listed = await sentinelReplicas({ host: '127.0.0.1', port: sentinel.port }, primary.password, GROUP);
          return listed.some((r) => r.id === id(promoted) && r.roleReported === 'master');
        },
        // Sentinel reads a replica's INFO every 10 s; it reconfigures it itself only 8 s later.
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      await guard('a').tick();
      assert.equal((await promoted.client().role())[0], 'master');
    } finally {
      await promoted.client().replicaof('127.0.0.1', primary.port);
    }
  });

  test('an old primary paused through a failover is fenced within moments of resuming, not at the next tick', async () => {
    // A member that answers as a primary of its own history: what a primary paused through a
    // failover is when it resumes. The guard ticks once, while it is paused, then not for a minute.
    const stale = await startTestRedis();
    await redis.sadd(PROMOTABLE_KEY, id(stale));
    stale.signal('SIGSTOP');
    const g = guard('a', { intervalMs: 60_000 });
    try {
      g.start();
      await sleep(700); // the tick: its own fence of the paused server times out
      stale.signal('SIGCONT');
      await waitFor('the resumed old primary to replicate from this primary', async () => (await stale.client().role())[0] === 'slave', {
        timeoutMs: 1_000,
        intervalMs: 20,
      });
    } finally {
      stale.signal('SIGCONT');
      await g.stop();
      await redis.srem(PROMOTABLE_KEY, id(stale));
      await stale.stop();
    }
  });
});
