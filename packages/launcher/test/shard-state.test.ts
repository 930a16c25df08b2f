/** A data dir keeps the shard count it was first started with (files.ts). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { layOut } from '../src/files.js';
import { TopologyError } from '../src/topology.js';
import { testTopology } from './fixtures.js';

describe('shard count of a data dir', () => {
  let dataDir: string;
  const at = (shards: number) => testTopology('ha', { dataDir, shards });
  const state = (): unknown => JSON.parse(fs.readFileSync(path.join(dataDir, 'topology-state.json'), 'utf8'));

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-shard-state-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('a one-shard data dir records nothing new, and refuses two shards', () => {
    layOut(at(1));
    assert.deepEqual(Object.keys(state() as object), ['sentinelFingerprint']);
    assert.deepEqual(layOut(at(1)), { keptSentinelState: true });
    assert.throws(() => layOut(at(2)), (err: unknown) => err instanceof TopologyError && /laid out for 1 shard\(s\) per service, not 2: start it with --shards 1, or --wipe/.test(err.message));
  });

  it('a two-shard data dir starts again with two, not with one', () => {
    layOut(at(2));
    assert.equal((state() as { shards: number }).shards, 2);
    assert.deepEqual(layOut(at(2)), { keptSentinelState: true });
    assert.throws(() => layOut(at(1)), /laid out for 2 shard\(s\)/);
  });

  it('a fresh data dir takes any count', () => {
    assert.doesNotThrow(() => layOut(at(3)));
  });
});
