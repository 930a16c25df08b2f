import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher } from '../src/batcher.js';

describe('Batcher', () => {
  test('calls of one event-loop turn share one flush, each gets its own result', async () => {
    const flushes: number[][] = [];
    const b = new Batcher<number, number>(async (xs) => {
      flushes.push(xs);
      return xs.map((x) => x * 2);
    });
    assert.deepEqual(await Promise.all([b.call(1), b.call(2), b.call(3)]), [2, 4, 6]);
    assert.deepEqual(await b.call(4), 8);
    assert.deepEqual(flushes, [[1, 2, 3], [4]]);
  });

  test('a failed flush rejects every call in it', async () => {
    const b = new Batcher<number, number>(async () => {
      throw new Error('down');
    });
    const results = await Promise.allSettled([b.call(1), b.call(2)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });
});
