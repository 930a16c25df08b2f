/**
 * The Sentinel follower against real servers and a real Sentinel: a client left on a server
 * the Sentinels no longer name (a missed failover notice) is moved, and nothing else is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createLogger } from '../src/log.js';
import { DurableWriter } from '../src/redis.js';
import { SentinelFollower } from '../src/replication/sentinel-follower.js';
import { sleep, waitFor } from '../src/probes.js';
import { startTestRedis, startTestSentinel, type TestRedis } from './support/redis-server.js';

const GROUP = 'followed';

describe('SentinelFollower', () => {
  let primary: TestRedis;
  let replica: TestRedis;
  /** A primary of its own that the Sentinel does not name: a deposed one, as the client sees it. */
  let deposed: TestRedis;
  let sentinel: TestRedis;

  before(async () => {
    primary = await startTestRedis();
    replica = await startTestRedis({ replicaOf: primary });
    deposed = await startTestRedis();
    sentinel = await startTestSentinel(primary, GROUP);
    await waitFor('replica online', async () => /connected_slaves:1/.test(await primary.client().info('replication')), { timeoutMs: 15_000 });
  });
  after(async () => {
    for (const server of [sentinel, replica, deposed, primary]) await server.stop();
  });

  /** Runs a follower on `redis` for `ms` and counts the times the client reconnected. */
  async function reconnectsWithin(redis: Redis, writer: DurableWriter, ms: number): Promise<number> {
    let reconnects = 0;
    const count = (): void => {
      reconnects++;
    };
    redis.on('reconnecting', count);
    const follower = new SentinelFollower({
      redis,
      writer,
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      group: GROUP,
      password: primary.password,
      log: createLogger('test', 'follower', 'silent'),
      intervalMs: 50,
      settleMs: 300,
    });
    follower.start();
    await sleep(ms);
    await follower.stop();
    redis.off('reconnecting', count);
    return reconnects;
  }

  /** A write confirmed through the writer: degrades it when fewer replicas answer than it expects. */
  async function write(writer: DurableWriter): Promise<void> {
    await writer.idempotent(() => writer.redis.set('follower:probe', '1'), 2_000);
  }

  test('a client on a server the Sentinels do not name, missing acknowledgements, is reconnected', async () => {
    const redis = deposed.client();
    // It expects a replica; the deposed server has none, so its writes fall back (degraded).
    const writer = new DurableWriter(redis, 1, 50, 300);
    await write(writer).catch(() => undefined);
    assert.equal(writer.degradedOn(), `127.0.0.1:${deposed.port}`);
    assert.equal(await reconnectsWithin(redis, writer, 1_500), 1);
  });

  test('a degraded client on the primary the Sentinels name stays where it is', async () => {
    const redis = primary.client();
    const writer = new DurableWriter(redis, 2, 50, 300); // two expected, one there: degraded
    await write(writer).catch(() => undefined);
    assert.equal(writer.degradedOn(), `127.0.0.1:${primary.port}`);
    assert.equal(await reconnectsWithin(redis, writer, 1_000), 0);
  });

  test('a client whose writes are all acknowledged is left alone, wherever it is', async () => {
    const redis = deposed.client();
    const writer = new DurableWriter(redis, 0, 50, 300); // nothing to wait for: never degraded
    await write(writer);
    assert.equal(writer.degradedOn(), undefined);
    assert.equal(await reconnectsWithin(redis, writer, 1_000), 0);
  });
});
