/**
 * The ledger over two shards (ledger/sharded.ts), each a real redis-server: where entries
 * land, and a checkout step whose lines live on both shards, reserved shard by shard and
 * committed or aborted on both, replay-safe.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { ShardedLedger, type Ledger } from '../src/ledger/sharded.js';
import { LedgerStore } from '../src/ledger/store.js';
import { DurableWriter } from '../src/redis.js';
import { shardIndex } from '../src/shards.js';
import { startTestRedis, type TestRedis } from './support/redis-server.js';

let servers: TestRedis[];
let redis: Redis[];
let ledger: Ledger;

before(async () => {
  servers = await Promise.all([startTestRedis(), startTestRedis()]);
  redis = servers.map((s) => s.client());
  ledger = ShardedLedger.over(redis.map((r) => new LedgerStore(r, new DurableWriter(r, 0, 1000), 'e:', 't:')));
});
after(async () => Promise.all(servers.map((s) => s.stop())));

/** A fresh entry id on shard `k` of 2, holding `available`. */
async function entryOn(k: number, available: number): Promise<string> {
  for (;;) {
    const id = randomUUID();
    if (shardIndex(id, 2) !== k) continue;
    await ledger.put([[id, available]]);
    return id;
  }
}

async function balance(id: string) {
  const [a, h] = await redis[shardIndex(id, 2)]!.hmget(`e:${id}`, 'a', 'h');
  return { a: Number(a), h: Number(h) };
}

const txState = (k: number, tx: string) => redis[k]!.get(`t:${tx}`);
const step = (op: 'reserve' | 'commit' | 'abort', tx: string, lines: [string, number][]) => ({ op, tx, lines });

describe('sharded ledger', () => {
  test('one shard is the store itself', () => {
    const store = new LedgerStore(redis[0]!, new DurableWriter(redis[0]!, 0, 1000), 'e:', 't:');
    assert.equal(ShardedLedger.over([store]), store);
  });

  test('ids spread over both shards, and each entry lives only on its own', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `spread-${i}`);
    await ledger.put(ids.map((id) => [id, 7]));
    const onShard = [0, 1].map((k) => ids.filter((id) => shardIndex(id, 2) === k));
    assert.ok(onShard[0]!.length > 60 && onShard[1]!.length > 60, `uneven: ${onShard[0]!.length} / ${onShard[1]!.length}`);
    for (const [k, list] of onShard.entries()) {
      assert.equal(await redis[k]!.exists(...list.map((id) => `e:${id}`)), list.length);
      assert.equal(await redis[1 - k]!.exists(...list.map((id) => `e:${id}`)), 0);
    }
    assert.deepEqual(await ledger.get(onShard[1]![0]!), { available: 7, fields: [] });
  });

  test('a step across shards holds on both, and its commit spends on both; replays change nothing', async () => {
    const [x, y] = [await entryOn(0, 5), await entryOn(1, 5)];
    const tx = randomUUID();
    const lines: [string, number][] = [[y, 2], [x, 3]];
    assert.deepEqual(await ledger.apply([step('reserve', tx, lines)]), [{ code: 'OK' }]);
    assert.deepEqual(await ledger.apply([step('reserve', tx, lines)]), [{ code: 'OK' }]);
    assert.deepEqual([await balance(x), await balance(y)], [{ a: 2, h: 3 }, { a: 3, h: 2 }]);
    assert.deepEqual(await ledger.apply([step('commit', tx, lines)]), ['OK']);
    assert.deepEqual(await ledger.apply([step('commit', tx, lines)]), ['OK']);
    assert.deepEqual([await balance(x), await balance(y)], [{ a: 2, h: 0 }, { a: 3, h: 0 }]);
  });

  test('a refusal on the later shard names the step\'s own line; the abort releases the earlier shard and fences both', async () => {
    const [x, y] = [await entryOn(0, 5), await entryOn(1, 1)];
    const tx = randomUUID();
    const lines: [string, number][] = [[y, 2], [x, 3]];
    // y is line 0 of the step but sits on shard 1, asked second.
    assert.deepEqual(await ledger.apply([step('reserve', tx, lines)]), [{ code: 'INSUFFICIENT', line: 0 }]);
    assert.deepEqual(await balance(x), { a: 2, h: 3 }, 'shard 0 held before shard 1 was asked');
    assert.deepEqual(await ledger.apply([step('abort', tx, lines)]), ['OK']);
    assert.deepEqual([await balance(x), await balance(y)], [{ a: 5, h: 0 }, { a: 1, h: 0 }]);
    assert.deepEqual(await ledger.apply([step('reserve', tx, lines)]), [{ code: 'ABORTED' }], 'a late reserve is refused');
    assert.deepEqual(await balance(x), { a: 5, h: 0 });
  });

  test('a refusal on the first shard never reaches the second', async () => {
    const [x, y] = [await entryOn(0, 1), await entryOn(1, 5)];
    const tx = randomUUID();
    assert.deepEqual(await ledger.apply([step('reserve', tx, [[y, 1], [x, 2]])]), [{ code: 'INSUFFICIENT', line: 1 }]);
    assert.equal(await txState(1, tx), null);
    assert.deepEqual(await balance(y), { a: 5, h: 0 });
  });

  test('BUSY on the later shard keeps the earlier hold; once the blocker aborts, the retry holds without holding twice', async () => {
    const [x, y] = [await entryOn(0, 5), await entryOn(1, 2)];
    const blocker = randomUUID();
    assert.deepEqual(await ledger.apply([step('reserve', blocker, [[y, 2]])]), [{ code: 'OK' }]);
    const tx = randomUUID();
    const lines: [string, number][] = [[x, 1], [y, 1]];
    assert.deepEqual(await ledger.apply([step('reserve', tx, lines)]), [{ code: 'BUSY', line: 1 }]);
    assert.deepEqual(await balance(x), { a: 4, h: 1 });
    assert.deepEqual(await ledger.apply([step('abort', blocker, [[y, 2]])]), ['OK']);
    assert.deepEqual(await ledger.apply([step('reserve', tx, lines)]), [{ code: 'OK' }]);
    assert.deepEqual([await balance(x), await balance(y)], [{ a: 4, h: 1 }, { a: 1, h: 1 }]);
  });

  test('one batch mixes steps: a commit, a one-shard reserve and a two-shard reserve, each answered in its place', async () => {
    const [x, y, z] = [await entryOn(0, 5), await entryOn(1, 5), await entryOn(1, 5)];
    const [t1, t2, t3] = [randomUUID(), randomUUID(), randomUUID()];
    assert.deepEqual(await ledger.apply([step('reserve', t1, [[z, 1]])]), [{ code: 'OK' }]);
    const answers = await ledger.apply([step('reserve', t2, [[x, 1], [y, 1]]), step('commit', t1, [[z, 1]]), step('reserve', t3, [[y, 9]])]);
    assert.deepEqual(answers, [{ code: 'OK' }, 'OK', { code: 'INSUFFICIENT', line: 0 }]);
    assert.deepEqual([await balance(x), await balance(y), await balance(z)], [{ a: 4, h: 1 }, { a: 4, h: 1 }, { a: 4, h: 0 }]);
  });

  test('a commit that finds one shard never reserved says so', async () => {
    const [x, y] = [await entryOn(0, 5), await entryOn(1, 5)];
    const tx = randomUUID();
    assert.deepEqual(await ledger.apply([step('reserve', tx, [[x, 1]])]), [{ code: 'OK' }]);
    assert.deepEqual(await ledger.apply([step('commit', tx, [[x, 1], [y, 1]])]), ['NOT_RESERVED']);
  });
});
