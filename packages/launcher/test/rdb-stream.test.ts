/**
 * rdb-stream.ts against a throwaway redis-server: a capture is set up without forking, and
 * its point in time is SYNC's fork (sync()), not the connect: the snapshot relies on this
 * to connect before it holds checkouts back.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestRedis, type TestRedis } from '@shop/common/testing/redis-server.js';
import { which } from '../src/prereqs.js';
import { withScratchServer } from '../src/snapshot/check.js';
import { captureRdb } from '../src/snapshot/rdb-stream.js';

let server: TestRedis;
before(async () => {
  server = await startTestRedis();
});
after(async () => {
  await server?.stop();
});

const forks = async (): Promise<number> => Number(/^total_forks:(\d+)/m.exec(await server.client().info('stats'))?.[1]);

test('ready does not fork; the copy holds what was written before sync() and nothing after the fork', async () => {
  const r = server.client();
  await r.set('before-connect', '1');
  const forksBefore = await forks();
  const capture = captureRdb({ host: '127.0.0.1', port: server.port }, server.password);
  await capture.ready;
  await r.set('after-ready', '1');
  assert.equal(await forks(), forksBefore, 'no fork before sync()');
  capture.sync();
  await capture.forked;
  await r.set('after-fork', '1');
  const rdb = await capture.done;
  assert.equal(await forks(), forksBefore + 1);
  const { counts } = await withScratchServer(rdb, which('redis-server') ?? 'redis-server', async (copy) => (await copy.keys('*')).sort());
  assert.deepEqual(counts, ['after-ready', 'before-connect']);
});

test('a wrong password fails ready, and the capture with it', async () => {
  const capture = captureRdb({ host: '127.0.0.1', port: server.port }, 'not-the-password');
  await assert.rejects(capture.ready, /refused the RDB stream/);
  await assert.rejects(capture.done, /refused the RDB stream/);
});
