/**
 * The report counts the Sentinels' failovers and names those no fault on the group's primary
 * explains (a spurious failover costs a group its writes for a few seconds, and must be seen).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Fault } from './faults.js';
import type { PrimarySample } from './paths.js';
import { FAILOVER_GRACE_MS, failovers } from './report.js';

const START: PrimarySample[] = [
  { t: 0, group: 'order', name: 'order-redis-0' },
  { t: 0, group: 'stock', name: 'stock-redis-0' },
];
const primaryFault = (kind: Fault['kind'], target: string, group: string, at: number, endedAt: number): Fault => ({
  kind,
  target,
  group,
  role: 'primary',
  at,
  endedAt,
});

describe('failovers in the chaos report', () => {
  test("each group's first primary is not a failover", () => {
    assert.deepEqual(failovers(START, []), { total: 0, unexplained: [] });
  });

  test("a change while its group's primary was killed or paused, or shortly after, is explained", () => {
    const samples = [...START, { t: 3_000, group: 'order', name: 'order-redis-1' }, { t: 42_000 + FAILOVER_GRACE_MS, group: 'stock', name: 'stock-redis-2' }];
    const faults = [primaryFault('db-kill', 'order-redis-0', 'order', 1_000, 2_500), primaryFault('db-pause', 'stock-redis-0', 'stock', 30_000, 42_000)];
    assert.deepEqual(failovers(samples, faults), { total: 2, unexplained: [] });
  });

  test('a change long after the fault, or in a group no fault touched, is unexplained', () => {
    const late = { t: 2_500 + FAILOVER_GRACE_MS + 1, group: 'order', name: 'order-redis-2' };
    const otherGroup = { t: 3_000, group: 'stock', name: 'stock-redis-1' };
    const samples = [...START, { t: 3_000, group: 'order', name: 'order-redis-1' }, late, otherGroup];
    const faults = [primaryFault('db-kill', 'order-redis-0', 'order', 1_000, 2_500)];
    assert.deepEqual(failovers(samples, faults), { total: 3, unexplained: [otherGroup, late] });
  });

  test('a fault on a service of the same name explains no failover of its Redis group', () => {
    const samples = [...START, { t: 3_000, group: 'order', name: 'order-redis-1' }];
    const serviceKill: Fault = { kind: 'service-kill', target: 'order-0', group: 'order', at: 1_000, endedAt: 1_300 };
    assert.equal(failovers(samples, [serviceKill]).unexplained.length, 1);
  });
});
