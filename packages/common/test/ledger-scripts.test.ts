import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { MAX_STEP_LINES } from '../src/ledger/protocol.js';
import { applyEach } from '../src/ledger/routes.js';
import { ENTRIES_PER_CALL, LedgerStore, splitCalls } from '../src/ledger/store.js';
import { DurableWriter } from '../src/redis.js';
import { BARRIER_KEY } from '../src/replication/promotable.js';
import { startTestRedis, type TestRedis } from './support/redis-server.js';

let server: TestRedis;
let redis: Redis;
let store: LedgerStore;

before(async () => {
  server = await startTestRedis();
  redis = server.client();
  // Each test gets its own key space through fresh random ids.
  store = new LedgerStore(redis, new DurableWriter(redis, 0, 1000), 'e:', 't:');
});
after(async () => server.stop());

const id = () => randomUUID();
async function entry(available: number): Promise<string> {
  const e = id();
  await store.put([[e, available]]);
  return e;
}
async function state(e: string) {
  const [a, h] = await redis.hmget(`e:${e}`, 'a', 'h');
  return { a: Number(a), h: Number(h) };
}

describe('steps.lua: reserve (step_reserve.lua)', () => {
  test('holds every line at once and records the transaction', async () => {
    const [x, y] = [await entry(5), await entry(3)];
    const tx = id();
    assert.deepEqual(await store.reserve([{ tx, lines: [[x, 2], [y, 3]] }]), [{ code: 'OK' }]);
    assert.deepEqual(await state(x), { a: 3, h: 2 });
    assert.deepEqual(await state(y), { a: 0, h: 3 });
    assert.equal(await redis.get(`t:${tx}`), 'r');
    assert.ok((await redis.ttl(`t:${tx}`)) > 0);
  });

  test('a replay answers OK and holds nothing more', async () => {
    const x = await entry(5);
    const tx = id();
    await store.reserve([{ tx, lines: [[x, 2]] }]);
    assert.deepEqual(await store.reserve([{ tx, lines: [[x, 2]] }]), [{ code: 'OK' }]);
    assert.deepEqual(await state(x), { a: 3, h: 2 });
  });

  test('refuses an unknown entry and changes nothing', async () => {
    const x = await entry(5);
    const tx = id();
    assert.deepEqual(await store.reserve([{ tx, lines: [[x, 1], [id(), 1]] }]), [{ code: 'UNKNOWN', line: 1 }]);
    assert.deepEqual(await state(x), { a: 5, h: 0 });
    assert.equal(await redis.exists(`t:${tx}`), 0);
  });

  test('refuses a genuine shortage and changes nothing', async () => {
    const [x, y] = [await entry(5), await entry(1)];
    assert.deepEqual(await store.reserve([{ tx: id(), lines: [[x, 1], [y, 2]] }]), [{ code: 'INSUFFICIENT', line: 1 }]);
    assert.deepEqual(await state(x), { a: 5, h: 0 });
  });

  test('answers BUSY when only undecided holds stand in the way, INSUFFICIENT when even they would not do', async () => {
    const x = await entry(3);
    await store.reserve([{ tx: id(), lines: [[x, 2]] }]);
    assert.deepEqual(await store.reserve([{ tx: id(), lines: [[x, 3]] }]), [{ code: 'BUSY', line: 0 }]);
    assert.deepEqual(await store.reserve([{ tx: id(), lines: [[x, 4]] }]), [{ code: 'INSUFFICIENT', line: 0 }]);
    assert.deepEqual(await state(x), { a: 1, h: 2 });
  });

  test('a zero amount holds nothing but still records the transaction', async () => {
    const x = await entry(0);
    const tx = id();
    assert.deepEqual(await store.reserve([{ tx, lines: [[x, 0]] }]), [{ code: 'OK' }]);
    assert.deepEqual(await state(x), { a: 0, h: 0 });
    assert.equal(await redis.get(`t:${tx}`), 'r');
  });
});

describe('transaction records', () => {
  test('each step writes the state and its TTL in one command: a string, 7 days', async () => {
    const x = await entry(5);
    const [kept, dropped] = [id(), id()];
    await store.reserve([{ tx: kept, lines: [[x, 1]] }]);
    await store.commit([{ tx: kept, lines: [[x, 1]] }]);
    await store.abort([{ tx: dropped, lines: [[x, 1]] }]);
    for (const [tx, st] of [[kept, 'c'], [dropped, 'a']] as const) {
      assert.equal(await redis.type(`t:${tx}`), 'string');
      assert.equal(await redis.get(`t:${tx}`), st);
      const ttl = await redis.ttl(`t:${tx}`);
      assert.ok(ttl > 7 * 24 * 3600 - 60 && ttl <= 7 * 24 * 3600, `ttl ${ttl}`);
    }
  });

  test('a record of the earlier layout (a hash, field s) is still honoured, and replaced at the next step', async () => {
    const x = await entry(5);
    // T reserved 2 under the earlier layout: its hold is in the entry, its record a hash.
    const [reserved, aborted] = [id(), id()];
    await redis.hset(`e:${x}`, 'a', 3, 'h', 2);
    await redis.hset(`t:${reserved}`, 's', 'r');
    await redis.hset(`t:${aborted}`, 's', 'a');
    assert.deepEqual(await store.reserve([{ tx: reserved, lines: [[x, 2]] }]), [{ code: 'OK' }], 'a replay: nothing more held');
    assert.deepEqual(await state(x), { a: 3, h: 2 });
    assert.deepEqual(await store.reserve([{ tx: aborted, lines: [[x, 1]] }]), [{ code: 'ABORTED' }], 'the old tombstone still refuses');
    assert.deepEqual(await store.commit([{ tx: reserved, lines: [[x, 2]] }]), ['OK']);
    assert.deepEqual(await state(x), { a: 3, h: 0 });
    assert.equal(await redis.get(`t:${reserved}`), 'c');
  });
});

describe('replays and the barrier', () => {
  test('a replay answering "already so" writes the barrier, so that WAIT covers what it read; a first application does not', async () => {
    const barrier = async (): Promise<number> => Number(await redis.get(BARRIER_KEY));
    const x = await entry(5);
    const [kept, dropped] = [id(), id()];
    const start = await barrier();
    await store.reserve([{ tx: kept, lines: [[x, 1]] }]);
    await store.commit([{ tx: kept, lines: [[x, 1]] }]);
    await store.abort([{ tx: dropped, lines: [[x, 1]] }]);
    assert.equal(await barrier(), start, 'each of these wrote its own effect');
    await store.reserve([{ tx: kept, lines: [[x, 1]] }]);
    assert.equal(await barrier(), start + 1, 'reserve found its transaction committed');
    await store.commit([{ tx: kept, lines: [[x, 1]] }]);
    assert.equal(await barrier(), start + 2, 'commit found it committed');
    await store.abort([{ tx: dropped, lines: [[x, 1]] }]);
    assert.equal(await barrier(), start + 3, 'abort found it aborted');
  });
});

describe('steps.lua: commit (step_commit.lua)', () => {
  test('drops the holds once; replays change nothing', async () => {
    const x = await entry(5);
    const tx = id();
    await store.reserve([{ tx, lines: [[x, 2]] }]);
    assert.deepEqual(await store.commit([{ tx, lines: [[x, 2]] }]), ['OK']);
    assert.deepEqual(await store.commit([{ tx, lines: [[x, 2]] }]), ['OK']);
    assert.deepEqual(await state(x), { a: 3, h: 0 });
    assert.deepEqual(await store.reserve([{ tx, lines: [[x, 2]] }]), [{ code: 'OK' }], 'a late reserve replays');
    assert.deepEqual(await state(x), { a: 3, h: 0 });
  });

  test('refuses a transaction that holds nothing or was aborted', async () => {
    const x = await entry(5);
    assert.deepEqual(await store.commit([{ tx: id(), lines: [[x, 2]] }]), ['NOT_RESERVED']);
    const tx = id();
    await store.abort([{ tx, lines: [[x, 2]] }]);
    assert.deepEqual(await store.commit([{ tx, lines: [[x, 2]] }]), ['CONFLICT']);
    assert.deepEqual(await state(x), { a: 5, h: 0 });
  });
});

describe('steps.lua: abort (step_abort.lua)', () => {
  test('returns the holds once and leaves a tombstone that refuses a late reserve', async () => {
    const x = await entry(5);
    const tx = id();
    await store.reserve([{ tx, lines: [[x, 4]] }]);
    assert.deepEqual(await store.abort([{ tx, lines: [[x, 4]] }]), ['OK']);
    assert.deepEqual(await store.abort([{ tx, lines: [[x, 4]] }]), ['OK']);
    assert.deepEqual(await state(x), { a: 5, h: 0 });
    assert.deepEqual(await store.reserve([{ tx, lines: [[x, 4]] }]), [{ code: 'ABORTED' }]);
    assert.deepEqual(await state(x), { a: 5, h: 0 });
  });

  test('an abort that arrives before its reserve still blocks the reserve', async () => {
    const x = await entry(5);
    const tx = id();
    assert.deepEqual(await store.abort([{ tx, lines: [[x, 1]] }]), ['OK']);
    assert.deepEqual(await state(x), { a: 5, h: 0 });
    assert.deepEqual(await store.reserve([{ tx, lines: [[x, 1]] }]), [{ code: 'ABORTED' }]);
  });

  test('refuses to undo a committed transaction', async () => {
    const x = await entry(5);
    const tx = id();
    await store.reserve([{ tx, lines: [[x, 1]] }]);
    await store.commit([{ tx, lines: [[x, 1]] }]);
    assert.deepEqual(await store.abort([{ tx, lines: [[x, 1]] }]), ['CONFLICT']);
    assert.deepEqual(await state(x), { a: 4, h: 0 });
  });

  test('a batch mixes outcomes, each step on its own', async () => {
    const x = await entry(2);
    const [t1, t2] = [id(), id()];
    const results = await store.reserve([
      { tx: t1, lines: [[x, 2]] },
      { tx: t2, lines: [[x, 1]] },
    ]);
    assert.deepEqual(results, [{ code: 'OK' }, { code: 'BUSY', line: 0 }]);
  });
});

describe('a mixed batch', () => {
  test('runs commits and aborts before reserves, answering in the order given', async () => {
    const x = await entry(2);
    const [t1, t2, t3] = [id(), id(), id()];
    await store.reserve([{ tx: t1, lines: [[x, 2]] }]);
    const results = await store.apply([
      { op: 'reserve', tx: t2, lines: [[x, 2]] },
      { op: 'abort', tx: t1, lines: [[x, 2]] },
      { op: 'commit', tx: t3, lines: [[x, 1]] },
    ]);
    assert.deepEqual(results, [{ code: 'OK' }, 'OK', 'NOT_RESERVED']);
    assert.deepEqual(await state(x), { a: 0, h: 2 });
  });
});

/** Calls of a command on the server so far (INFO commandstats). */
async function calls(command: string): Promise<number> {
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await redis.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

describe('steps.lua: a whole batch in one script call', () => {
  test('ten steps of ten transactions run as one EVALSHA and apply each', async () => {
    const x = await entry(100);
    const txs = Array.from({ length: 10 }, () => id());
    await store.reserve(txs.slice(0, 5).map((tx) => ({ tx, lines: [[x, 1]] })));
    const before = await calls('evalsha');
    const results = await store.apply([
      ...txs.slice(0, 5).map((tx) => ({ op: 'commit' as const, tx, lines: [[x, 1]] as [string, number][] })),
      ...txs.slice(5).map((tx) => ({ op: 'reserve' as const, tx, lines: [[x, 2]] as [string, number][] })),
    ]);
    assert.equal((await calls('evalsha')) - before, 1, 'one script call for the batch');
    assert.deepEqual(results, [...Array.from({ length: 5 }, () => 'OK'), ...Array.from({ length: 5 }, () => ({ code: 'OK' }))]);
    assert.deepEqual(await state(x), { a: 85, h: 10 });
  });

  test('replays answered from earlier writes end with exactly one barrier write; fresh steps with none', async () => {
    const x = await entry(10);
    const txs = [id(), id(), id()];
    const steps = txs.map((tx) => ({ tx, lines: [[x, 1]] as [string, number][] }));
    const b0 = Number((await redis.get(BARRIER_KEY)) ?? 0);
    await store.reserve(steps);
    const b1 = Number((await redis.get(BARRIER_KEY)) ?? 0);
    assert.equal(b1, b0, 'nothing read from another write: no barrier');
    assert.deepEqual(await store.reserve(steps), Array(3).fill({ code: 'OK' }));
    assert.equal(Number(await redis.get(BARRIER_KEY)), b1 + 1, 'three replays, one barrier write');
    assert.deepEqual(await state(x), { a: 7, h: 3 });
  });

  test('a batch over ENTRIES_PER_CALL entries is split into calls of one pipeline, answered in order', async () => {
    assert.deepEqual(splitCalls([0, 1, 2, 3], () => ENTRIES_PER_CALL / 2), [[0, 1], [2, 3]]);
    assert.deepEqual(splitCalls([5, 6], (i) => (i === 5 ? ENTRIES_PER_CALL + 1 : 1)), [[5], [6]], 'a long step alone');
    const entries = await Promise.all(Array.from({ length: 3 }, () => entry(5)));
    const lines = (n: number): [string, number][] => Array.from({ length: n }, (_, i) => [entries[i % 3]!, 0]);
    const txs = Array.from({ length: 5 }, () => id());
    const before = await calls('evalsha');
    // 1,000 lines each (the most a step may have), 5,000 in all: at least three calls.
    const results = await store.reserve(txs.map((tx) => ({ tx, lines: lines(1000) })));
    assert.ok((await calls('evalsha')) - before >= 3, 'split into several calls');
    assert.deepEqual(results, Array(5).fill({ code: 'OK' }));
    for (const tx of txs) assert.equal(await redis.get(`t:${tx}`), 'r');
  });
});

describe('adjust.lua', () => {
  test('adds and subtracts, never below zero', async () => {
    const x = await entry(5);
    assert.deepEqual(await store.adjust(x, '+', 3), { code: 'OK', available: 8 });
    assert.deepEqual(await store.adjust(x, '-', 8), { code: 'OK', available: 0 });
    assert.deepEqual(await store.adjust(x, '-', 1), { code: 'INSUFFICIENT', available: 0 });
    assert.deepEqual(await state(x), { a: 0, h: 0 });
  });

  test('answers BUSY when undecided holds would cover the subtraction', async () => {
    const x = await entry(5);
    await store.reserve([{ tx: id(), lines: [[x, 4]] }]);
    assert.deepEqual(await store.adjust(x, '-', 3), { code: 'BUSY', available: 1 });
    assert.deepEqual(await state(x), { a: 1, h: 4 });
  });

  test('refuses an unknown entry and a sum past 2^53 - 1', async () => {
    assert.deepEqual(await store.adjust(id(), '+', 1), { code: 'UNKNOWN', available: 0 });
    const x = await entry(Number.MAX_SAFE_INTEGER - 1);
    assert.deepEqual(await store.adjust(x, '+', 2), { code: 'TOO_LARGE', available: Number.MAX_SAFE_INTEGER - 1 });
    assert.deepEqual(await store.adjust(x, '+', 1), { code: 'OK', available: Number.MAX_SAFE_INTEGER });
  });
});

describe('adjust.lua with a zero amount', () => {
  test('is a no-op answering the current level, in both directions; an unknown entry is still refused', async () => {
    const e = await entry(5);
    assert.deepEqual(await store.adjust(e, '-', 0), { code: 'OK', available: 5 });
    assert.deepEqual(await store.adjust(e, '+', 0), { code: 'OK', available: 5 });
    assert.deepEqual(await state(e), { a: 5, h: 0 });
    assert.equal((await store.adjust(id(), '-', 0)).code, 'UNKNOWN');
  });
});

describe('one bad step never fails its batch (applyEach)', () => {
  test('an oversized, merged-overflow or malformed step is INVALID alone; the others apply', async () => {
    const [x, y] = [await entry(5), await entry(5)];
    const [good, commitOfGood, tooMany, twice, badAmount] = [id(), id(), id(), id(), id()];
    await store.reserve([{ tx: commitOfGood, lines: [[y, 1]] }]);
    const many = Array.from({ length: MAX_STEP_LINES + 1 }, (_, i): [string, number] => [`e${i}`, 1]);
    const results = await applyEach(store, [
      { op: 'reserve', tx: tooMany, lines: many },
      { op: 'reserve', tx: good, lines: [[x, 2]] },
      { op: 'reserve', tx: twice, lines: [[x, 1], [x, 1]] },
      { op: 'commit', tx: commitOfGood, lines: [[y, 1]] },
      { op: 'reserve', tx: badAmount, lines: [[x, Number.MAX_SAFE_INTEGER + 2]] },
      { op: 'abort', tx: 'bad id!', lines: [[x, 1]] },
      'not a step',
    ]);
    assert.equal((results[0] as { code: string }).code, 'INVALID');
    assert.deepEqual(results[1], { code: 'OK' });
    assert.equal((results[2] as { code: string }).code, 'INVALID');
    assert.equal(results[3], 'OK');
    assert.equal((results[4] as { code: string }).code, 'INVALID');
    assert.equal(results[5], 'INVALID');
    assert.equal(results[6], 'INVALID');
    assert.deepEqual(await state(x), { a: 3, h: 2 }, 'only the good reserve held anything');
    assert.deepEqual(await state(y), { a: 4, h: 0 });
    assert.equal(await redis.exists(`t:${tooMany}`, `t:${twice}`, `t:${badAmount}`), 0, 'refused steps record nothing');
  });

  test('a step whose script fails is FAILED alone; the others of the pipeline apply', async () => {
    const x = await entry(5);
    const wrongType = id();
    await redis.set(`e:${wrongType}`, 'not a hash');
    const [ok, broken] = [id(), id()];
    const results = await applyEach(store, [
      { op: 'reserve', tx: broken, lines: [[wrongType, 1]] },
      { op: 'reserve', tx: ok, lines: [[x, 1]] },
    ]);
    assert.equal((results[0] as { code: string }).code, 'FAILED');
    assert.deepEqual(results[1], { code: 'OK' });
    assert.deepEqual(await state(x), { a: 4, h: 1 });
  });
});
