import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher } from '../src/batcher.js';
import { Metrics } from '../src/metrics.js';

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

  test('a call that can wait rides in the next batch started by call, or leaves alone after its delay', async () => {
    const flushes: string[][] = [];
    const b = new Batcher<string, string>(async (xs) => {
      flushes.push([...xs]);
      return xs;
    });
    const late = b.callWithin('commit-1', 50);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(flushes, [], 'not sent on its own before its delay');
    assert.deepEqual(await Promise.all([b.call('reserve-2'), late]), ['reserve-2', 'commit-1']);
    assert.deepEqual(flushes, [['commit-1', 'reserve-2']], 'one batch for both');
    const t0 = Date.now();
    assert.equal(await b.callWithin('commit-3', 30), 'commit-3');
    assert.ok(Date.now() - t0 >= 25, 'alone, it leaves after its delay');
    assert.deepEqual(flushes[1], ['commit-3']);
  });

  test('reports the size of every batch it flushes', async () => {
    const sizes: number[] = [];
    const b = new Batcher<number, number>(
      async (xs) => xs,
      (size) => sizes.push(size),
    );
    await Promise.all([b.call(1), b.call(2), b.call(3)]);
    await b.call(4);
    assert.deepEqual(sizes, [3, 1]);
  });

  test('the batch-size metric counts each batch by kind', async () => {
    const metrics = new Metrics('order', 'order-0');
    metrics.observeBatch('checkout_begin', 20);
    metrics.observeBatch('checkout_begin', 4);
    metrics.observeBatch('steps_to_stock', 1);
    const text = await metrics.registry.metrics();
    assert.match(text, /^shop_batch_size_sum\{service="order",replica="order-0",kind="checkout_begin"\} 24$/m);
    assert.match(text, /^shop_batch_size_count\{service="order",replica="order-0",kind="checkout_begin"\} 2$/m);
    assert.match(text, /^shop_batch_size_bucket\{le="4",service="order",replica="order-0",kind="checkout_begin"\} 1$/m);
    assert.match(text, /^shop_batch_size_count\{service="order",replica="order-0",kind="steps_to_stock"\} 1$/m);
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

  test('with one batch in flight at most, calls made meanwhile leave together once it settles', async () => {
    const flushes: number[][] = [];
    let release: () => void = () => undefined;
    const b = new Batcher<number, number>(
      async (xs) => {
        flushes.push([...xs]);
        if (flushes.length === 1) await new Promise<void>((r) => (release = r));
        return xs;
      },
      undefined,
      { maxInFlight: 1 },
    );
    const first = b.call(1);
    await new Promise((r) => setImmediate(r));
    const waiting = [b.call(2), b.call(3)];
    await new Promise((r) => setTimeout(r, 5));
    const late = b.call(4);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(flushes, [[1]], 'nothing leaves while the first batch is in flight');
    release();
    assert.deepEqual(await Promise.all([first, ...waiting, late]), [1, 2, 3, 4]);
    assert.deepEqual(flushes, [[1], [2, 3, 4]]);
  });

  test('a failed flush frees its slot: the calls that waited still leave', async () => {
    let n = 0;
    const b = new Batcher<number, number>(
      async (xs) => {
        n++;
        if (n === 1) {
          await new Promise((r) => setTimeout(r, 5));
          throw new Error('down');
        }
        return xs;
      },
      undefined,
      { maxBatch: 2, maxInFlight: 1 },
    );
    const first = b.call(1);
    await new Promise((r) => setImmediate(r));
    const rest = [b.call(2), b.call(3), b.call(4)];
    await assert.rejects(first, /down/);
    assert.deepEqual(await Promise.all(rest), [2, 3, 4], 'in batches of at most 2, one after the other');
    assert.equal(n, 3);
  });
});
