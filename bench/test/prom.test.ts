/** The bench's reading of the services' Prometheus text: batch sizes over a window. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '@shop/common/metrics.js';
import { parseProm } from '@shop/common/prom-text.js';
import { addSamples, batchSizesDelta, emptyPoint, gcDelta, type MetricsPoint } from '../prom.js';

/** A point as readPoint builds it, from the scraped text of each service's replica. */
async function pointOf(replicas: Record<string, Metrics>): Promise<MetricsPoint> {
  const point = emptyPoint(0);
  for (const [service, m] of Object.entries(replicas)) addSamples(point, service, parseProm(await m.registry.metrics()));
  return point;
}

describe('bench: batch sizes from shop_batch_size', () => {
  it('counts only the batches of the window, by service and kind', async () => {
    const order = new Metrics('order', 'order-0');
    const stock = new Metrics('stock', 'stock-0');
    order.observeBatch('checkout_begin', 100); // before the window: not counted
    const before = await pointOf({ order, stock });
    for (const n of [10, 20, 30]) order.observeBatch('checkout_begin', n);
    stock.observeBatch('steps', 4);
    const after = await pointOf({ order, stock });
    const sizes = batchSizesDelta(before, after);
    assert.deepEqual(Object.keys(sizes).sort(), ['order checkout_begin', 'stock steps']);
    assert.equal(sizes['order checkout_begin']?.batches, 3);
    assert.equal(sizes['order checkout_begin']?.mean, 20);
    const p50 = sizes['order checkout_begin']?.p50 ?? NaN;
    assert.ok(p50 > 16 && p50 <= 32, `median ${p50} lies in the bucket (16, 32]`);
    assert.deepEqual({ batches: sizes['stock steps']?.batches, mean: sizes['stock steps']?.mean }, { batches: 1, mean: 4 });
  });
});

describe('bench: BUSY waits from shop_checkout_busy_waits_total', () => {
  it('sums each participant over the replicas that exported it', () => {
    const point = emptyPoint(0);
    const text = (n: number, m: number): string =>
      `# TYPE shop_checkout_busy_waits_total counter\nshop_checkout_busy_waits_total{participant="stock"} ${n}\nshop_checkout_busy_waits_total{participant="payment"} ${m}\n`;
    addSamples(point, 'order', parseProm(text(3, 1)));
    addSamples(point, 'order', parseProm(text(4, 0)));
    assert.deepEqual(point.busyWaits, { stock: 7, payment: 1 });
  });
});

describe('bench: garbage collection from nodejs_gc_duration_seconds', () => {
  const gcText = (minor: [number, number, number]): string =>
    [
      '# TYPE nodejs_gc_duration_seconds histogram',
      `nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor"} ${minor[0]}`,
      `nodejs_gc_duration_seconds_bucket{le="0.01",kind="minor"} ${minor[1]}`,
      `nodejs_gc_duration_seconds_bucket{le="+Inf",kind="minor"} ${minor[2]}`,
      `nodejs_gc_duration_seconds_sum{kind="minor"} ${minor[2] * 0.004}`,
      `nodejs_gc_duration_seconds_count{kind="minor"} ${minor[2]}`,
      '',
    ].join('\n');
  it('counts the pauses of the window, their time and those of 10 ms or more', () => {
    const before = emptyPoint(0);
    const after = emptyPoint(0);
    addSamples(before, 'stock', parseProm(gcText([1, 2, 2]), 'nodejs_gc_duration_seconds'));
    addSamples(after, 'stock', parseProm(gcText([3, 6, 9]), 'nodejs_gc_duration_seconds'));
    const gc = gcDelta(before, after);
    assert.deepEqual(Object.keys(gc), ['stock minor']);
    assert.equal(gc['stock minor']?.pauses, 7);
    assert.equal(gc['stock minor']?.atLeast10ms, 3, '7 pauses, 4 of them under 10 ms');
    assert.ok(Math.abs((gc['stock minor']?.seconds ?? 0) - 0.028) < 1e-9);
  });
});
