/**
 * Whom a restarted Redis server follows (replication/one-shot.ts latestOfMajority): the
 * latest record among a majority of Sentinels, never a lone or first answer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { latestOfMajority, type SentinelRecord } from '../src/replication/one-shot.js';

const OLD: SentinelRecord = { primary: { host: '127.0.0.1', port: 6380 }, configEpoch: 3, flags: ['master'] };
const NEW: SentinelRecord = { primary: { host: '127.0.0.1', port: 6381 }, configEpoch: 4, flags: ['master'] };

describe('latestOfMajority', () => {
  test('a stale Sentinel answering first does not win over a later record', () => {
    assert.deepEqual(latestOfMajority([OLD, NEW, NEW], 3).primary, NEW.primary);
    assert.deepEqual(latestOfMajority([OLD, undefined, NEW], 3).primary, NEW.primary);
  });

  test('the highest epoch wins even when it is the minority view', () => {
    // The failover's leader told one Sentinel so far; the other still has the old record.
    assert.deepEqual(latestOfMajority([OLD, NEW, undefined], 3).primary, NEW.primary);
  });

  test('at the same epoch, the promoted primary wins over the leader still reconfiguring replicas', () => {
    // Between +promoted-slave and +failover-end the leader has the new epoch and the old address.
    const LEADER: SentinelRecord = { primary: OLD.primary, configEpoch: NEW.configEpoch, flags: ['master', 'failover_in_progress'] };
    assert.deepEqual(latestOfMajority([LEADER, NEW, NEW], 3).primary, NEW.primary);
    assert.deepEqual(latestOfMajority([NEW, LEADER, undefined], 3).primary, NEW.primary);
    assert.deepEqual(latestOfMajority([LEADER, undefined, undefined, NEW, NEW], 5).primary, NEW.primary);
    // The leader alone at that epoch (its hello not heard yet): its record is the latest there is.
    assert.deepEqual(latestOfMajority([LEADER, OLD, OLD], 3).primary, OLD.primary);
  });

  test('no majority answering: no primary, and the count says why', () => {
    assert.deepEqual(latestOfMajority([OLD, undefined, undefined], 3), { primary: undefined, answered: 1, asked: 3 });
    assert.deepEqual(latestOfMajority([undefined, undefined, undefined], 3), { primary: undefined, answered: 0, asked: 3 });
  });

  test('one Sentinel of one is a majority', () => {
    assert.deepEqual(latestOfMajority([OLD], 1).primary, OLD.primary);
  });
});
