/**
 * Laying a snapshot into a data dir (snapshot/restore.ts), on files: every server of a group
 * gets the group's copy as its AOF base, and a snapshot that is corrupt, partial, of another
 * shard count, or aimed at a data dir that holds data is refused before anything is written.
 * (test/e2e/snapshot.test.ts restores real snapshots into running clusters.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { SnapshotError } from '../src/snapshot/errors.js';
import { layInSnapshot } from '../src/snapshot/restore.js';
import { MANIFEST } from '../src/snapshot/take.js';
import type { Topology } from '../src/topology.js';
import { testTopology, writeSnapshot } from './fixtures.js';

let work: string;
let topology: Topology;
let snapshot: string;

const written = () => topology.redis.filter((n) => fs.existsSync(path.join(n.dir, 'appendonlydir'))).map((n) => n.name);

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-restore-'));
  topology = testTopology('ha', { shards: 2, dataDir: path.join(work, 'data') });
  snapshot = path.join(work, 'snap');
  writeSnapshot(snapshot, topology);
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

describe('restoring a snapshot into a data dir', () => {
  test('every server of every group gets its group\'s copy as the base of its append-only file', () => {
    layInSnapshot(topology, snapshot);
    for (const n of topology.redis) {
      const aof = path.join(n.dir, 'appendonlydir');
      assert.equal(fs.readFileSync(path.join(aof, 'appendonly.aof.1.base.rdb'), 'utf8'), `REDIS0010 copy of ${n.group}`);
      assert.equal(fs.readFileSync(path.join(aof, 'appendonly.aof.manifest'), 'utf8'), 'file appendonly.aof.1.base.rdb seq 1 type b\n');
    }
  });

  const refusals: [string, () => void, RegExp][] = [
    ['a flipped byte', () => fs.writeFileSync(path.join(snapshot, 'stock-s1.rdb'), 'REDIS0010 copy of stock-s2'), /stock-s1\.rdb of group stock-s1 is corrupt/],
    ['a missing file', () => fs.rmSync(path.join(snapshot, 'payment.rdb')), /payment\.rdb of group payment is missing/],
    ['no manifest (a snapshot that never completed)', () => fs.rmSync(path.join(snapshot, MANIFEST)), /holds no manifest\.json/],
    ['a truncated manifest', () => fs.writeFileSync(path.join(snapshot, MANIFEST), '{"format":1,'), /not valid JSON/],
  ];
  for (const [what, damage, message] of refusals) {
    test(`${what} is refused whole, before anything is written`, () => {
      damage();
      assert.throws(() => layInSnapshot(topology, snapshot), (err: unknown) => err instanceof SnapshotError && message.test(err.message));
      assert.deepEqual(written(), []);
    });
  }

  test('a snapshot of another shard count is refused, naming the one to start with', () => {
    const one = testTopology('ha', { dataDir: path.join(work, 'data') });
    assert.throws(() => layInSnapshot(one, snapshot), /the snapshot has 2 shard\(s\) per service: start with --shards 2/);
  });

  test('a data dir that already holds data is refused', () => {
    const node = topology.redis[4]!;
    fs.mkdirSync(path.join(node.dir, 'appendonlydir'), { recursive: true });
    assert.throws(() => layInSnapshot(topology, snapshot), new RegExp(`already holds data \\(${node.name}\\)`));
  });
});
