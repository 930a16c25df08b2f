import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { batchedScript } from '../src/pipeline.js';
import { DurableWriter } from '../src/redis.js';
import { startTestRedis, type TestRedis } from './support/redis-server.js';

let server: TestRedis;
let redis: Redis;
let counter: (input: { key: string; fail?: boolean }) => Promise<number>;

before(async () => {
  server = await startTestRedis();
  redis = server.client();
  // Counts calls per key; fails on request with a script error (not a transient one).
  redis.defineCommand('count_v1', {
    lua: "if ARGV[1] == 'fail' then return redis.error_reply('BOOM asked to fail') end return redis.call('INCR', KEYS[1])",
  });
  counter = batchedScript(redis, new DurableWriter(redis, 0, 250), 'count', ({ key, fail }) => ({
    keys: [key],
    args: [fail === true ? 'fail' : 'ok'],
  }));
});
after(async () => server.stop());

test('calls of one turn each get their own reply', async () => {
  const replies = await Promise.all(['a', 'b', 'a', 'c', 'a'].map((key) => counter({ key: `t1:${key}` })));
  assert.deepEqual(replies, [1, 1, 2, 1, 3]);
});

test('a script error fails only its own call; the batch is not replayed', async () => {
  const results = await Promise.allSettled([counter({ key: 't2:x' }), counter({ key: 't2:y', fail: true }), counter({ key: 't2:z' })]);
  assert.deepEqual(results[0], { status: 'fulfilled', value: 1 });
  assert.equal(results[1].status, 'rejected');
  assert.match(String((results[1]).reason), /BOOM asked to fail/);
  assert.deepEqual(results[2], { status: 'fulfilled', value: 1 });
  assert.equal(await redis.get('t2:x'), '1', 'a replay would have counted twice');
});
