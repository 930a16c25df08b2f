/**
 * DurableWriter against a real primary, two real replicas and a real Sentinel: how many
 * acknowledgements a write waits for as replicas stop and come back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { ShopError, UnknownOutcomeError } from '../src/errors.js';
import { DurableWriter } from '../src/redis.js';
import { ReplicasToWaitFor, countToWaitFor, parseReplicas, type SentinelView } from '../src/replica-health.js';
import { sleep, waitFor } from '../../../launcher/probes.js';
import { serviceLikeClient, startTestRedis, startTestSentinel, type TestRedis, type TestSentinel } from '../../../test/support/redis-server.js';

type Entry = { flags?: string; link?: string; role?: string };
const view = (entries: Record<string, Entry>): SentinelView =>
  new Map(Object.entries(entries).map(([k, e]) => [k, { flags: (e.flags ?? 'slave').split(','), link: e.link ?? 'ok', role: e.role ?? 'slave' }]));

describe('countToWaitFor', () => {
  test('counts replicas that some Sentinel sees up and linked', () => {
    assert.equal(countToWaitFor([view({ a: {}, b: {} }), view({ a: {}, b: { flags: 's_down,slave' } })]), 2);
  });

  test('leaves out a replica every Sentinel sees down or does not know', () => {
    const views = [view({ a: { flags: 's_down,slave' }, b: {} }), view({ a: { flags: 's_down,slave,disconnected' }, b: {} }), view({ b: {} })];
    assert.equal(countToWaitFor(views), 1);
  });

  test('leaves out a replica still resyncing and an old primary not yet demoted', () => {
    assert.equal(countToWaitFor([view({ a: { link: 'err' }, b: { role: 'master' }, c: {} })]), 1);
  });

  test('parses SENTINEL REPLICAS replies', () => {
    const reply = [
      ['name', '127.0.0.1:1', 'ip', '127.0.0.1', 'flags', 'slave', 'role-reported', 'slave', 'master-link-status', 'ok'],
      ['name', '127.0.0.1:2', 'ip', '127.0.0.1', 'flags', 's_down,slave', 'role-reported', 'slave', 'master-link-status', 'err'],
    ];
    assert.deepEqual(parseReplicas(reply), view({ '127.0.0.1:1': {}, '127.0.0.1:2': { flags: 's_down,slave', link: 'err' } }));
  });
});

describe('DurableWriter with a primary, two replicas and a Sentinel', () => {
  let primary: TestRedis;
  let replicas: TestRedis[];
  let sentinel: TestSentinel;
  let ackCount: ReplicasToWaitFor;
  let redis: Redis;
  let writer: DurableWriter;

  const bothOnline = () =>
    waitFor(
      'both replicas online and seen up',
      async () => {
        await ackCount.refresh();
        return ackCount.count === 2 && /connected_slaves:2/.test(await redis.info('replication'));
      },
      { timeoutMs: 20_000 },
    );
  /** One acknowledged write; resolves to how long it took. */
  const write = async (key: string): Promise<number> => {
    const started = Date.now();
    const epoch = writer.currentEpoch;
    await redis.set(key, '1');
    await writer.confirm(epoch);
    return Date.now() - started;
  };

  before(async () => {
    primary = await startTestRedis();
    replicas = [await startTestRedis({ replicaOf: primary }), await startTestRedis({ replicaOf: primary })];
    sentinel = await startTestSentinel(primary, 'shop');
    ackCount = new ReplicasToWaitFor([{ host: '127.0.0.1', port: sentinel.port }], 'shop', primary.password);
    redis = primary.client();
    writer = new DurableWriter(redis, 2, 250, ackCount, 3_000);
    await bothOnline();
  });
  after(async () => {
    writer.stop();
    await sentinel.stop();
    for (const r of replicas) await r.stop();
    await primary.stop();
  });

  test('waits for both replicas while the Sentinel sees both up', async () => {
    assert.equal(writer.required, 2);
    await write('a');
    for (const r of replicas) assert.equal(await r.client().get('a'), '1');
  });

  test('a stopped replica stalls writes until the Sentinel sees it down, then no longer', async () => {
    const [stopped, running] = replicas as [TestRedis, TestRedis];
    stopped.signal('SIGSTOP');
    try {
      const first = await write('b');
      assert.ok(first >= 200, `first write after the stop took ${first} ms: it cannot have waited for the stopped replica`);
      assert.equal(writer.required, 1);
      const next = await write('c');
      assert.ok(next < 200, `a write once the Sentinel saw the replica down took ${next} ms`);
      assert.equal(await running.client().get('c'), '1');
    } finally {
      stopped.signal('SIGCONT');
    }
    await bothOnline();
    assert.equal(writer.required, 2);
    await write('d');
    assert.equal(await stopped.client().get('d'), '1');
  });

  test('with every replica down, a write is an unknown outcome, never confirmed', async () => {
    for (const r of replicas) r.signal('SIGSTOP');
    try {
      await assert.rejects(write('e'), UnknownOutcomeError);
    } finally {
      for (const r of replicas) r.signal('SIGCONT');
    }
    await bothOnline();
  });
});

describe('DurableWriter.once (writes that must not be replayed)', () => {
  /** A server of its own, already killed, and a client that has noticed. */
  async function killed() {
    const server = await startTestRedis();
    const redis = serviceLikeClient(server);
    await redis.ping();
    server.signal('SIGKILL');
    await waitFor('the client to notice', async () => redis.status !== 'ready', { timeoutMs: 5_000, intervalMs: 10 });
    const close = async (): Promise<void> => {
      redis.disconnect();
      await server.stop();
    };
    return { server, redis, writer: new DurableWriter(redis, 0, 250), close };
  }

  test('waits for the connection instead of queueing the write where a reconnect would fail it', async () => {
    const { server, redis, writer, close } = await killed();
    try {
      const write = writer.once(() => redis.incr('n'));
      // Down long enough for several failed reconnect attempts: each fails what is queued.
      await sleep(500);
      await server.restart();
      assert.equal(await write, 1);
    } finally {
      await close();
    }
  });

  test('answers UNAVAILABLE without sending the write when the database stays away', async () => {
    const { redis, writer, close } = await killed();
    try {
      let sent = false;
      const write = () => {
        sent = true;
        return redis.incr('n');
      };
      await assert.rejects(writer.once(write, 500), (err: unknown) => err instanceof ShopError && err.code === 'UNAVAILABLE');
      assert.equal(sent, false);
    } finally {
      await close();
    }
  });
});
