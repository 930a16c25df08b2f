/**
 * DurableWriter against a real primary and two real replicas: a write is confirmed once
 * every replica has it, or, when one does not answer, once every member of the promotable
 * set (replication/promotable.ts) has it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { ShopError, UnconfirmedWriteError, UnknownOutcomeError } from '../src/errors.js';
import { DurableWriter } from '../src/redis.js';
import { PROMOTABLE_KEY } from '../src/replication/promotable.js';
import { sleep, waitFor } from '../src/probes.js';
import { serviceLikeClient, startTestRedis, type TestRedis } from './support/redis-server.js';

describe('DurableWriter with a primary and two replicas', () => {
  let primary: TestRedis;
  let replicas: [TestRedis, TestRedis];
  let redis: Redis;
  let writer: DurableWriter;
  const id = (server: TestRedis): string => `127.0.0.1:${server.port}`;

  const write = async (key: string): Promise<void> => {
    const epoch = writer.currentEpoch;
    await redis.set(key, '1');
    await writer.confirm(epoch);
  };
  /** Stops a replica for the length of `body`, then lets it catch up. */
  const whileStopped = async (server: TestRedis, body: () => Promise<void>): Promise<void> => {
    server.signal('SIGSTOP');
    try {
      await body();
    } finally {
      server.signal('SIGCONT');
    }
  };

  before(async () => {
    primary = await startTestRedis();
    replicas = [await startTestRedis({ replicaOf: primary }), await startTestRedis({ replicaOf: primary })];
    redis = primary.client();
    writer = new DurableWriter(redis, 2, 100, 1_500);
    await waitFor('both replicas online', async () => /connected_slaves:2/.test(await redis.info('replication')), { timeoutMs: 15_000 });
  });
  afterEach(async () => {
    // Back to full strength: the next test starts with both replicas acknowledging.
    await waitFor('both replicas to acknowledge', async () => (await redis.wait(2, 100)) === 2, { timeoutMs: 15_000 });
  });
  after(async () => {
    for (const r of replicas) await r.stop();
    await primary.stop();
  });

  test('a write is confirmed once both promotable replicas have it', async () => {
    await redis.sadd(PROMOTABLE_KEY, id(replicas[0]), id(replicas[1]));
    await write('a');
    for (const r of replicas) assert.equal(await r.client().get('a'), '1');
  });

  test('with a promotable replica stopped, a write is an unknown outcome, never confirmed by the other alone', async () => {
    await redis.sadd(PROMOTABLE_KEY, id(replicas[0]), id(replicas[1]));
    await whileStopped(replicas[0], async () => {
      await assert.rejects(write('b'), UnknownOutcomeError);
    });
    // Once it is back, the next write covers the earlier one too.
    await write('c');
    assert.equal(await replicas[0].client().get('b'), '1');
  });

  test('a replica outside the promotable set is not waited for', async () => {
    await redis.del(PROMOTABLE_KEY);
    await redis.sadd(PROMOTABLE_KEY, id(replicas[0]));
    await whileStopped(replicas[1], async () => {
      await write('d');
      assert.equal(await replicas[0].client().get('d'), '1');
      await write('e');
    });
  });

  test('an acknowledgement from outside the set does not stand in for a member', async () => {
    await redis.del(PROMOTABLE_KEY);
    await redis.sadd(PROMOTABLE_KEY, id(replicas[0]));
    await whileStopped(replicas[0], async () => {
      await assert.rejects(write('f'), UnknownOutcomeError);
    });
  });

  test('the primary\'s own entry in the set needs no acknowledgement', async () => {
    await redis.del(PROMOTABLE_KEY);
    await redis.sadd(PROMOTABLE_KEY, `127.0.0.1:${primary.port}`, id(replicas[0]));
    await whileStopped(replicas[1], async () => {
      await write('g');
    });
  });

  test('with an empty set one replica still must have the write', async () => {
    await redis.del(PROMOTABLE_KEY);
    await whileStopped(replicas[0], async () => {
      await whileStopped(replicas[1], async () => {
        await assert.rejects(write('h'), UnknownOutcomeError);
      });
    });
  });

  describe('idempotentPipeline', () => {
    /** Counts the WAITs sent on their own (a pipeline's own WAIT is not one of them). */
    let separateWaits = 0;
    before(() => {
      const wait = redis.wait.bind(redis);
      redis.wait = (...args: Parameters<Redis['wait']>) => {
        separateWaits++;
        return wait(...args);
      };
    });
    after(() => {
      // The prototype's own method again.
      delete (redis as Partial<Pick<Redis, 'wait'>>).wait;
    });
    /** Every WAIT the primary has run, in pipelines or not. */
    const waitCalls = async (): Promise<number> => Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    /** Both replicas in the set, and one confirmed write so the writer knows they answer. */
    const fullStrength = async (): Promise<void> => {
      await redis.del(PROMOTABLE_KEY);
      await redis.sadd(PROMOTABLE_KEY, id(replicas[0]), id(replicas[1]));
      await write('warm');
      separateWaits = 0;
    };

    test('a lone pipeline carries its own WAIT and answers only its own commands', async () => {
      await fullStrength();
      const waitsBefore = await waitCalls();
      const replies = await writer.idempotentPipeline((p) => void p.set('p1', 'x').incr('p1:n'));
      assert.equal((await waitCalls()) - waitsBefore, 1);
      assert.deepEqual(replies, [
        [null, 'OK'],
        [null, 1],
      ]);
      assert.equal(separateWaits, 0, 'confirmed by the WAIT in its own pipeline');
      for (const r of replicas) assert.equal(await r.client().get('p1'), 'x');
    });

    test('pipelines sent while one awaits its confirmation leave their WAIT to the shared one', async () => {
      await fullStrength();
      const waitsBefore = await waitCalls();
      await Promise.all(['p2', 'p3', 'p4'].map((key) => writer.idempotentPipeline((p) => void p.set(key, 'y'))));
      // The two later ones are confirmed by the turn's shared WAIT (one, or two if their
      // replies arrive in different turns), never by WAITs of their own.
      assert.equal((await waitCalls()) - waitsBefore - separateWaits, 1, 'only the first carried its own WAIT');
      assert.ok(separateWaits >= 1 && separateWaits <= 2, `shared WAITs: ${separateWaits}`);
      for (const r of replicas) assert.deepEqual(await r.client().mget('p2', 'p3', 'p4'), ['y', 'y', 'y']);
    });

    test('with a member stopped, a lone pipeline is never confirmed by the other replica alone', async () => {
      await fullStrength();
      await whileStopped(replicas[0], async () => {
        await assert.rejects(
          writer.idempotentPipeline((p) => void p.set('p5', 'z'), 1_000),
          (err: unknown) => err instanceof UnconfirmedWriteError,
        );
      });
    });

    test('with a replica outside the set stopped, the members confirm it', async () => {
      await fullStrength();
      await redis.srem(PROMOTABLE_KEY, id(replicas[1]));
      await whileStopped(replicas[1], async () => {
        await writer.idempotentPipeline((p) => void p.set('p6', 'w'));
        assert.equal(await replicas[0].client().get('p6'), 'w');
      });
    });
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
