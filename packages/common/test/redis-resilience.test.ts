/** How the services' Redis client rides through a server going away and coming back. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { retryTransient, reviveWhenEnded } from '../src/redis.js';
import { sleep, waitFor } from '../src/probes.js';
import { serviceLikeClient, startTestRedis, type TestRedis } from './support/redis-server.js';

let server: TestRedis;
before(async () => {
  server = await startTestRedis();
});
after(async () => server.stop());

const client = () => new Redis({ port: server.port, password: server.password, maxRetriesPerRequest: 0 });

test('a client that ioredis ended is connected again', async () => {
  const redis = client();
  const stop = reviveWhenEnded(redis);
  try {
    await redis.ping();
    // The end state a failover race leaves behind, reached here the direct way.
    const ended = once(redis, 'end');
    redis.disconnect();
    await ended;
    await waitFor('the client to be ready again', async () => redis.status === 'ready', { timeoutMs: 3_000, intervalMs: 20 });
    assert.equal(await redis.ping(), 'PONG');
  } finally {
    stop();
    redis.disconnect();
  }
});

test('once stopped, an ended client stays ended', async () => {
  const redis = client();
  const stop = reviveWhenEnded(redis);
  await redis.ping();
  stop();
  redis.disconnect();
  await sleep(500);
  assert.equal(redis.status, 'end');
});

test('a read waits out a server that is briefly away', async () => {
  const redis = serviceLikeClient(server, 50);
  try {
    await redis.set('r', 'kept');
    server.signal('SIGSTOP');
    redis.disconnect(true);
    const read = retryTransient(() => redis.get('r'), 5_000);
    await sleep(600);
    server.signal('SIGCONT');
    assert.equal(await read, 'kept');
  } finally {
    redis.disconnect();
  }
});

test('a read gives up after its budget with the error it saw', async () => {
  const redis = serviceLikeClient(server, 50);
  server.signal('SIGSTOP');
  try {
    redis.disconnect(true);
    await assert.rejects(retryTransient(() => redis.get('r'), 300), /max retries|Connection is closed|timed out/i);
  } finally {
    server.signal('SIGCONT');
    redis.disconnect();
  }
});
