/**
 * The console's reading of the services' Prometheus text (console/prom.ts): what prom-client
 * really writes (a registry like the services' Metrics), counter resets, and quantiles as
 * Prometheus' histogram_quantile computes them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics } from '@shop/common/metrics.js';
import { bucketQuantile, parseProm } from '@shop/common/prom-text.js';
import { buckets, counterDelta, sum } from '../src/console/prom.js';

describe('console: Prometheus text', () => {
  test('reads the counters and histogram a service registry writes', async () => {
    const m = new Metrics('order', 'order-0');
    m.checkouts.inc({ outcome: 'committed' }, 3);
    m.checkouts.inc({ outcome: 'INSUFFICIENT_CREDIT' });
    m.requests.inc({ surface: 'public', route: '/checkout/:order_id', method: 'POST', status: 200 }, 3);
    m.requests.inc({ surface: 'public', route: '/checkout/:order_id', method: 'POST', status: 503 }, 2);
    m.requests.inc({ surface: 'internal', route: '/metrics', method: 'GET', status: 200 });
    for (const s of [0.002, 0.002, 0.04, 0.3]) m.latency.observe({ surface: 'public', route: '/checkout/:order_id' }, s);
    const samples = parseProm(await m.registry.metrics());

    assert.ok(samples.every((s) => s.name.startsWith('shop_')), 'default metrics are skipped');
    assert.equal(sum(samples, 'shop_checkouts_total', { outcome: 'committed' }), 3);
    assert.equal(sum(samples, 'shop_checkouts_total', { outcome: 'INSUFFICIENT_CREDIT' }), 1);
    assert.equal(sum(samples, 'shop_http_requests_total', { surface: 'public' }), 5);
    assert.equal(sum(samples, 'shop_http_requests_total', (l) => (l.status ?? '').startsWith('5')), 2);
    const b = buckets(samples, 'shop_http_request_duration_seconds', { surface: 'public', route: '/checkout/:order_id' });
    assert.equal(b.get(Infinity), 4);
    assert.equal(b.get(0.0025), 2);
    assert.equal(b.get(0.05), 3);
  });

  test('a counter that went down was reset by a restart: it grew by what it holds', () => {
    assert.equal(counterDelta(10, 15), 5);
    assert.equal(counterDelta(10, 3), 3);
  });

  test('quantiles interpolate inside their bucket; none without observations', () => {
    const b = new Map([
      [0.1, 50],
      [0.2, 90],
      [1, 100],
      [Infinity, 100],
    ]);
    assert.equal(bucketQuantile(0.5, b), 0.1);
    assert.ok(Math.abs(bucketQuantile(0.7, b)! - 0.15) < 1e-9);
    assert.ok(Math.abs(bucketQuantile(0.99, b)! - 0.92) < 1e-9);
    assert.equal(bucketQuantile(0.5, new Map([[Infinity, 0]])), undefined);
    // Past the last finite bound nothing says how far: that bound.
    assert.equal(bucketQuantile(0.99, new Map([[1, 1], [Infinity, 10]])), 1);
  });

  test('label values keep their escapes', () => {
    const [s] = parseProm('shop_x{a="q\\"uote",b="back\\\\slash"} 2\n');
    assert.deepEqual(s, { name: 'shop_x', labels: { a: 'q"uote', b: 'back\\slash' }, value: 2 });
  });
});
