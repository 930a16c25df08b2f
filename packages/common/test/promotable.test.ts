/**
 * When a write counts as done (replication/promotable.ts), as pure functions: reading a
 * ROLE reply, and deciding from it whether the promotable set has a write.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRole, promotableAcked, type RoleOfPrimary } from '../src/replication/promotable.js';

const A = '10.0.0.1:6380';
const B = '10.0.0.2:6380';
const C = '10.0.0.3:6380';
const SELF = '10.0.0.9:6380';

/** A primary at offset 1000 whose replicas acknowledged the given offsets. */
function primary(acked: Record<string, number>): RoleOfPrimary {
  return { isPrimary: true, offset: 1000, acked: new Map(Object.entries(acked)) };
}

describe('parseRole', () => {
  test('a primary: its offset, and each connected replica\'s acknowledged offset by host:port', () => {
    const role = parseRole(['master', 3129659, [['10.0.0.1', '6380', '3129242'], ['10.0.0.2', '6380', '3129543']]]);
    assert.equal(role.isPrimary, true);
    assert.equal(role.offset, 3129659);
    assert.deepEqual(
      role.acked,
      new Map([
        [A, 3129242],
        [B, 3129543],
      ]),
    );
  });

  test('a primary with no replica, or no replica list, acknowledges nothing', () => {
    assert.deepEqual(parseRole(['master', 42, []]), { isPrimary: true, offset: 42, acked: new Map() });
    assert.deepEqual(parseRole(['master', 42]), { isPrimary: true, offset: 42, acked: new Map() });
  });

  test('entries that are not [host, port, offset] are skipped', () => {
    const role = parseRole(['master', 7, ['garbage', null, ['10.0.0.3', '6380', '5']]]);
    assert.deepEqual(role.acked, new Map([[C, 5]]));
  });

  test('anything but a primary: not a primary, offset 0, nothing acknowledged', () => {
    const notPrimary = { isPrimary: false, offset: 0, acked: new Map() };
    for (const reply of [
      ['slave', '10.0.0.9', 6380, 'connected', 3129659],
      ['sentinel', ['shop-order']],
      [],
      'master',
      null,
      undefined,
      { 0: 'master', 1: 5 },
    ]) {
      assert.deepEqual(parseRole(reply), notPrimary, JSON.stringify(reply));
    }
  });
});

describe('promotableAcked', () => {
  test('an empty set: one replica acknowledging is enough, and is needed', () => {
    assert.deepEqual(promotableAcked(primary({ [A]: 1000, [B]: 10 }), [], SELF, 1000), { confirmed: true, needed: 1 });
    assert.deepEqual(promotableAcked(primary({ [A]: 999, [B]: 10 }), [], SELF, 1000), { confirmed: false, needed: 1 });
    assert.deepEqual(promotableAcked(primary({}), [], SELF, 1000), { confirmed: false, needed: 1 });
  });

  test('every member of the set must have the write; a lagging non-member does not matter', () => {
    const role = primary({ [A]: 1000, [B]: 1200, [C]: 3 });
    assert.deepEqual(promotableAcked(role, [A, B], SELF, 1000), { confirmed: true, needed: 2 });
    assert.deepEqual(promotableAcked(role, [A, B, C], SELF, 1000), { confirmed: false, needed: 3 });
    assert.deepEqual(promotableAcked(role, [A, B], SELF, 1001), { confirmed: false, needed: 2 }, 'A is one byte short');
  });

  test('a member that is not connected (absent from ROLE) is not an acknowledgement', () => {
    assert.deepEqual(promotableAcked(primary({ [A]: 5000 }), [A, B], SELF, 1000), { confirmed: false, needed: 2 });
  });

  test('the primary itself in the set (it was a replica before a failover) is not waited for', () => {
    assert.deepEqual(promotableAcked(primary({ [A]: 1000 }), [A, SELF], SELF, 1000), { confirmed: true, needed: 1 });
    // Only itself in the set: still at least one replica must have the write.
    assert.deepEqual(promotableAcked(primary({ [A]: 1000 }), [SELF], SELF, 1000), { confirmed: true, needed: 1 });
    assert.deepEqual(promotableAcked(primary({}), [SELF], SELF, 1000), { confirmed: false, needed: 1 });
  });

  test('target 0 still needs a connected replica', () => {
    assert.deepEqual(promotableAcked(primary({ [A]: 0 }), [], SELF, 0), { confirmed: true, needed: 1 });
    assert.deepEqual(promotableAcked(primary({}), [], SELF, 0), { confirmed: false, needed: 1 });
  });

  test('a server that is no longer primary confirms nothing, whatever it last saw', () => {
    const demoted: RoleOfPrimary = { isPrimary: false, offset: 0, acked: new Map([[A, 5000]]) };
    assert.deepEqual(promotableAcked(demoted, [A], SELF, 10), { confirmed: false, needed: 1 });
    assert.deepEqual(promotableAcked(demoted, [], SELF, 10), { confirmed: false, needed: 1 });
  });

  test('from a parsed ROLE reply, end to end', () => {
    const role = parseRole(['master', 2000, [['10.0.0.1', '6380', '2000'], ['10.0.0.2', 6380, 1999]]]);
    assert.equal(promotableAcked(role, [A], SELF, 2000).confirmed, true);
    assert.equal(promotableAcked(role, [A, B], SELF, 2000).confirmed, false);
    assert.equal(promotableAcked(role, [A, B], SELF, 1999).confirmed, true);
  });
});
