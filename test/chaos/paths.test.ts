/**
 * The path model decides which failed checkouts are excused: it must excuse exactly the
 * failures that overlap a moment without a path, and name the faults around the others.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Fault } from './faults.js';
import type { CheckoutRecord } from './history.js';
import { PATH_GRACE_MS, PROMOTABLE_AFTER_MS, PathModel, SERVICE_READY_MS, TILT_MS, judgeAvailability, type PrimarySample, type ProcessInfo } from './paths.js';
import { parseOptions } from './options.js';

const PROCESSES: ProcessInfo[] = [
  ...['order-redis-0', 'order-redis-1', 'order-redis-2'].map((name) => ({ name, kind: 'redis' as const, group: 'order' })),
  ...['sentinel-0', 'sentinel-1', 'sentinel-2'].map((name) => ({ name, kind: 'sentinel' as const })),
  ...['order-0', 'order-1'].map((name) => ({ name, kind: 'service' as const, group: 'order' })),
  { name: 'gateway', kind: 'nginx' },
];
const PRIMARY: PrimarySample[] = [{ t: 0, group: 'order', name: 'order-redis-0' }];

const fault = (kind: Fault['kind'], target: string, at: number, endedAt: number): Fault => ({ kind, target, at, endedAt });
const model = (faults: Fault[], primaries = PRIMARY): PathModel => new PathModel(PROCESSES, faults, primaries, 60_000);

function failedCheckout(start: number, end: number): CheckoutRecord {
  return {
    orderId: `o${start}`,
    kind: 'fresh',
    attempts: [
      { start, end, status: 502, indeterminate: '502' },
      { start: end + 100, end: end + 150, status: 200 },
    ],
    final: { status: 200 },
  };
}

describe('path model', () => {
  test('one replica of a service down leaves a path; both down do not, until the restart is serving', () => {
    assert.equal(model([fault('service-kill', 'order-0', 1000, 1300)]).blocked(1100), undefined);
    const both = model([fault('service-kill', 'order-0', 1000, 1300), fault('service-pause', 'order-1', 1100, 9000)]);
    assert.equal(both.blocked(1200), 'every order replica down');
    assert.equal(both.blocked(1300 + SERVICE_READY_MS - 100), 'every order replica down');
    assert.equal(both.blocked(1300 + SERVICE_READY_MS + 100), undefined);
  });

  test('shards are groups of their own: a shard-1 primary without a promotable replica blocks; the same faults on another group do not add up', () => {
    const shard1 = ['stock-s1-redis-0', 'stock-s1-redis-1', 'stock-s1-redis-2'].map((name) => ({ name, kind: 'redis' as const, group: 'stock-s1' }));
    const stock0 = ['stock-redis-0', 'stock-redis-1', 'stock-redis-2'].map((name) => ({ name, kind: 'redis' as const, group: 'stock' }));
    const primaries: PrimarySample[] = [...PRIMARY, { t: 0, group: 'stock', name: 'stock-redis-0' }, { t: 0, group: 'stock-s1', name: 'stock-s1-redis-0' }];
    const sharded = (faults: Fault[]): PathModel => new PathModel([...PROCESSES, ...stock0, ...shard1], faults, primaries, 60_000);
    const m = sharded([
      fault('db-kill', 'stock-s1-redis-1', 9_000, 9_300),
      fault('db-pause', 'stock-s1-redis-2', 9_100, 10_000),
      fault('db-kill', 'stock-s1-redis-0', 10_000, 16_000),
    ]);
    assert.match(m.blocked(10_100) ?? '', /^stock-s1 primary stock-s1-redis-0 down and no promotable replica/);
    // One server down in each of two groups of the same service: each still has a path.
    const spread = sharded([fault('db-kill', 'stock-redis-1', 9_000, 9_300), fault('db-kill', 'stock-s1-redis-0', 10_000, 10_300)]);
    assert.equal(spread.blocked(10_100), undefined);
  });

  test('a dead primary leaves a path through a replica that has been up long enough', () => {
    const m = model([fault('db-kill', 'order-redis-0', 10_000, 10_300)]);
    assert.equal(m.blocked(10_100), undefined);
  });

  test('a dead primary whose replicas were just hit has no path until one has been up PROMOTABLE_AFTER_MS', () => {
    const m = model([
      fault('db-kill', 'order-redis-1', 9_000, 9_300),
      fault('db-pause', 'order-redis-2', 9_100, 10_000),
      // Its restart waits for a failover that cannot happen yet (roles.ts).
      fault('db-kill', 'order-redis-0', 10_000, 16_000),
    ]);
    assert.match(m.blocked(10_100) ?? '', /order primary order-redis-0 down and no promotable replica/);
    assert.match(m.blocked(9_300 + PROMOTABLE_AFTER_MS - 100) ?? '', /no promotable replica/);
    assert.equal(m.blocked(9_300 + PROMOTABLE_AFTER_MS + 100), undefined);
  });

  test('a paused member of the promotable set holds its group\'s writes until it resumes; a replica just restarted does not', () => {
    const m = model([fault('db-pause', 'order-redis-1', 10_000, 17_000)]);
    assert.equal(m.blocked(9_900), undefined);
    assert.match(m.blocked(10_100) ?? '', /order writes wait for order-redis-1, paused while in the promotable set/);
    assert.equal(m.blocked(17_100), undefined);
    // Killed 2 s before the pause: not caught up yet, so not a member the writes wait for.
    const fresh = model([fault('db-kill', 'order-redis-1', 8_000, 8_300), fault('db-pause', 'order-redis-1', 10_000, 17_000)]);
    assert.equal(fresh.blocked(10_100), undefined);
    // A primary stays a member: paused and failed over from, it holds the new primary's writes.
    const zombie = model([{ ...fault('db-pause', 'order-redis-0', 10_000, 17_000), role: 'primary' }], [...PRIMARY, { t: 12_000, group: 'order', name: 'order-redis-1' }]);
    assert.match(zombie.blocked(13_000) ?? '', /order writes wait for order-redis-0, paused while in the promotable set/);
    assert.equal(zombie.blocked(17_100), undefined);
  });

  test('a dead primary with most Sentinels down has no path; after the failover, the new primary is the path', () => {
    const faults = [
      fault('sentinel-pause', 'sentinel-0', 0, 20_000),
      fault('sentinel-pause', 'sentinel-1', 0, 20_000),
      fault('db-kill', 'order-redis-0', 10_000, 10_300),
    ];
    assert.match(model(faults).blocked(10_100) ?? '', /no Sentinel majority/);
    const failedOver = [...PRIMARY, { t: 10_050, group: 'order', name: 'order-redis-1' }];
    assert.equal(model(faults, failedOver).blocked(10_100), undefined);
  });

  test('Sentinels in TILT after a pause longer than 2 s cannot fail over for 30 s', () => {
    const faults = [
      fault('sentinel-pause', 'sentinel-0', 0, 5_000),
      fault('sentinel-pause', 'sentinel-1', 1_000, 2_500),
      fault('db-kill', 'order-redis-0', 10_000, 40_000),
    ];
    // sentinel-1's pause was too short for TILT: with sentinel-2 it is a majority.
    assert.equal(model(faults).blocked(10_100), undefined);
    const both = [...faults.slice(0, 1), fault('sentinel-pause', 'sentinel-1', 1_000, 4_000), faults[2]!];
    assert.match(model(both).blocked(10_100) ?? '', /no Sentinel majority \(down or in TILT\)/);
    // sentinel-1 leaves TILT 30 s after its pause ended.
    assert.match(model(both).blocked(4_000 + TILT_MS - 100) ?? '', /in TILT/);
    assert.equal(model(both).blocked(4_000 + TILT_MS + 100), undefined);
  });

  test('the gateway down is no path', () => {
    assert.equal(model([fault('gateway-kill', 'gateway', 5000, 5300)]).blocked(5100), 'gateway down');
  });
});

describe('availability judgement', () => {
  const bothOrderReplicasDown = [fault('service-pause', 'order-0', 10_000, 12_000), fault('service-pause', 'order-1', 10_000, 12_000)];

  test('a failure during, or just after, a moment without a path is excused', () => {
    const { report, violations } = judgeAvailability({
      seed: 1,
      model: model(bothOrderReplicasDown),
      faults: bothOrderReplicasDown,
      checkouts: [failedCheckout(9_000, 10_500), failedCheckout(12_000 + PATH_GRACE_MS - 500, 12_000 + PATH_GRACE_MS + 100)],
    });
    assert.deepEqual(violations, []);
    assert.deepEqual(report.failedAttempts, { total: 2, excused: 2, unexcused: 0 });
    assert.equal(report.noPath.length, 1);
    assert.equal(report.noPath[0]?.reason, 'every order replica down');
  });

  test('a failure while a path existed is a violation naming the faults around it, one per burst', () => {
    const oneDown = [fault('service-pause', 'order-0', 10_000, 12_000)];
    const { report, violations } = judgeAvailability({
      seed: 7,
      model: model(oneDown),
      faults: oneDown,
      checkouts: [failedCheckout(10_100, 11_000), failedCheckout(10_200, 11_050), failedCheckout(40_000, 40_010)],
    });
    assert.deepEqual(report.failedAttempts, { total: 3, excused: 0, unexcused: 3 });
    assert.equal(violations.length, 2);
    assert.equal(violations[0]?.rule, 'availability');
    assert.match(violations[0]?.message ?? '', /^2 checkout attempt\(s\) failed between 10100 and 11050 ms while a path existed \(2 x 502\); faults around: service-pause order-0 at 10000-12000$/);
    assert.match(violations[1]?.message ?? '', /faults around: none$/);
  });

  test('the wait a fault causes is the longest attempt in flight at it, from the fault on', () => {
    const f = [fault('db-kill', 'order-redis-0', 10_000, 10_300)];
    f[0]!.role = 'primary';
    const ok = (start: number, end: number): CheckoutRecord => ({ orderId: 'x', kind: 'fresh', attempts: [{ start, end, status: 200 }], final: { status: 200 } });
    const { report } = judgeAvailability({ seed: 1, model: model(f), faults: f, checkouts: [ok(9_900, 13_000), ok(10_500, 12_000), ok(20_000, 30_000)] });
    assert.deepEqual(report.pauses['db-kill (primary)'], { faults: 1, p50: 3000, p99: 3000, max: 3000 });
  });
});

describe('storm options', () => {
  test('--storm hits every kind of process every 3 s unless told otherwise', () => {
    const o = parseOptions(['--storm', '--seed', '5']);
    assert.ok(o !== 'help');
    assert.deepEqual(o.storm, { everyS: 3 });
    assert.deepEqual(o.faults, ['service', 'db', 'sentinel', 'gateway']);
  });

  test('sentinel and gateway faults, and --every, need --storm', () => {
    assert.throws(() => parseOptions(['--faults', 'sentinel']), /sentinel and gateway with --storm/);
    assert.throws(() => parseOptions(['--every', '2']), /--every goes with --storm/);
    const o = parseOptions(['--storm', '--every', '1.5', '--faults', 'db']);
    assert.ok(o !== 'help');
    assert.deepEqual([o.storm, o.faults], [{ everyS: 1.5 }, ['db']]);
  });
});
