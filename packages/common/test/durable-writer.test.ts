/**
 * DurableWriter against a real primary with two real replicas: how many acknowledgements a
 * write waits for as replicas stop, come back and resync.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { ShopError, UnknownOutcomeError } from '../src/errors.js';
import { DurableWriter } from '../src/redis.js';
import { countKeepingUp } from '../src/replica-health.js';
import { sleep, waitFor } from '../../../launcher/probes.js';
import { serviceLikeClient, startTestRedis, type TestRedis } from '../../../test/support/redis-server.js';

describe('countKeepingUp', () => {
  const info = (lines: string[]) => ['# Replication', 'role:master', `connected_slaves:${lines.length}`, ...lines, 'master_repl_offset:9'].join('\r\n');

  test('counts online replicas heard from within a second', () => {
    const text = info([
      'slave0:ip=127.0.0.1,port=1,state=online,offset=9,lag=0',
      'slave1:ip=127.0.0.1,port=2,state=online,offset=9,lag=1',
    ]);
    assert.equal(countKeepingUp(text), 2);
  });

  test('leaves out a silent replica and one still syncing', () => {
    const text = info([
      'slave0:ip=127.0.0.1,port=1,state=online,offset=9,lag=2',
      'slave1:ip=127.0.0.1,port=2,state=wait_bgsave,offset=0,lag=0',
      'slave2:ip=127.0.0.1,port=3,state=online,offset=9,lag=0',
    ]);
    assert.equal(countKeepingUp(text), 1);
  });

  test('counts nothing without replica lines', () => {
    assert.equal(countKeepingUp(info([])), 0);
  });
});

describe('DurableWriter with a primary and two replicas', () => {
  let primary: TestRedis;
  let replicas: TestRedis[];
  let redis: Redis;
  let writer: DurableWriter;

  const replicationOf = async (server: TestRedis): Promise<string> => server.client().info('replication');
  const bothOnline = () =>
    waitFor('both replicas online', async () => countKeepingUp(await redis.info('replication')) === 2, { timeoutMs: 15_000 });
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
    replicas = [await startTestRedis({ replicaOf: primary, aof: true }), await startTestRedis({ replicaOf: primary, aof: true })];
    redis = primary.client();
    writer = new DurableWriter(redis, 2, 250, 3_000);
    await bothOnline();
    await writer.health?.refresh();
  });
  after(async () => {
    writer.stop();
    for (const r of replicas) await r.stop();
    await primary.stop();
  });

  test('waits for both replicas while both keep up', async () => {
    assert.equal(writer.required, 2);
    await write('a');
    for (const r of replicas) assert.equal(await r.client().get('a'), '1');
  });

  test('a stopped replica stalls writes for about two seconds, then no longer', async () => {
    const [stopped, running] = replicas as [TestRedis, TestRedis];
    stopped.signal('SIGSTOP');
    try {
      const first = await write('b');
      assert.ok(first >= 200, `first write after the stop took ${first} ms: it cannot have waited for the stopped replica`);
      assert.ok(first < 3_000, `first write took ${first} ms`);
      assert.equal(writer.required, 1);
      const next = await write('c');
      assert.ok(next < 200, `a write once the stopped replica left the count took ${next} ms`);
      assert.equal(await running.client().get('c'), '1');
    } finally {
      stopped.signal('SIGCONT');
    }
    await bothOnline();
    await writer.health?.refresh();
    assert.equal(writer.required, 2);
    await write('d');
    assert.equal(await stopped.client().get('d'), '1');
  });

  test('with no replica keeping up, a write is an unknown outcome, never confirmed', async () => {
    for (const r of replicas) r.signal('SIGSTOP');
    try {
      await assert.rejects(write('e'), UnknownOutcomeError);
      assert.equal(writer.required, 1);
    } finally {
      for (const r of replicas) r.signal('SIGCONT');
    }
    await bothOnline();
  });

  test('a replica restarted from its AOF reports offset 0 until it has resynced', async () => {
    // The safety argument of replica-health.ts: Sentinel promotes the largest offset, so a
    // restarted replica, holding old data, must not report its old offset while it catches up.
    const restarted = replicas[0] as TestRedis;
    await write('f');
    const before = await replicationOf(restarted);
    assert.match(before, /slave_repl_offset:[1-9]\d{2,}/);
    primary.signal('SIGSTOP');
    try {
      await restarted.restart();
      const during = await replicationOf(restarted);
      assert.match(during, /master_link_status:down/);
      assert.match(during, /slave_repl_offset:[01]\r/);
      assert.equal(await restarted.client().get('f'), '1', 'the AOF was reloaded');
    } finally {
      primary.signal('SIGCONT');
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
