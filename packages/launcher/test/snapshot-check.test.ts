/**
 * The check of a copy (snapshot/check.ts) in a real scratch redis-server: the cut mark proves
 * the copy was forked inside the cut, and is stripped from the copy kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCopy, withScratchServer } from '../src/snapshot/check.js';
import { CUT_MARK_KEY } from '../src/snapshot/cut-mark.js';
import { RetryableSnapshotError } from '../src/snapshot/errors.js';
import { which } from '../src/prereqs.js';

// An empty RDB: header, end of file, and a zero checksum (Redis then skips the check).
const EMPTY_RDB = Buffer.concat([Buffer.from('REDIS0010'), Buffer.from([0xff]), Buffer.alloc(8)]);
const redisServer = which('redis-server') ?? 'redis-server';

/** An RDB holding one stock item of 5 units, and the cut mark `token` unless undefined. */
async function stockCopy(token: string | undefined): Promise<Buffer> {
  const made = await withScratchServer(EMPTY_RDB, redisServer, async (r) => {
    await r.hset('item:1', 'a', '5', 'h', '0', 'p', '2');
    if (token !== undefined) await r.set(CUT_MARK_KEY, token);
  });
  return made.rdb;
}

test('a copy holding its snapshot\'s cut mark is kept, without the mark', async () => {
  const checked = await checkCopy(await stockCopy('tok-1'), 'stock', redisServer, 'tok-1');
  assert.equal(checked.counts.keys, 1);
  const left = await withScratchServer(checked.rdb, redisServer, async (r) => [await r.exists(CUT_MARK_KEY), await r.hget('item:1', 'a')]);
  assert.deepEqual(left.counts, [0, '5']);
});

test('a copy without the mark, or with another snapshot\'s, was forked outside the cut: refused, retryable', async () => {
  for (const token of [undefined, 'tok-2']) {
    await assert.rejects(checkCopy(await stockCopy(token), 'stock', redisServer, 'tok-1'), (err: unknown) => {
      assert.ok(err instanceof RetryableSnapshotError, String(err));
      assert.match((err as Error).message, /forked after the cut was released/);
      return true;
    });
  }
});
