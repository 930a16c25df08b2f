/**
 * The chaos harness in CI: the checker must catch what it claims to (fabricated histories),
 * and a short fixed-seed run with service faults must come out clean.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { check, type CheckInput } from './checker.js';
import { History, type Initial } from './history.js';
import { formatViolation, summary } from './report.js';
import { runChaos } from './run.js';
import type { ApiState, FoundOrder, RedisState } from './state.js';

/** One user (credit 100), one item (price 7, stock 10), one order of 2 that answered 200. */
function scenario(finalCredit: number, finalStock: number, paid = true): CheckInput {
  const history = new History();
  history.addOrder({ orderId: 'o1', userId: 'u1' });
  history.addItems.push({ orderId: 'o1', itemId: 'i1', qty: 2, racing: false, attempts: [], final: { status: 200 } });
  history.addCheckout({
    orderId: 'o1',
    kind: 'fresh',
    attempts: [
      { start: 0, end: 10_000, status: 504, indeterminate: '504' },
      { start: 10_100, end: 10_200, status: 200 },
    ],
    final: { status: 200 },
  });
  const initial: Initial = {
    users: new Map([['u1', { id: 'u1', credit: 100, poor: false }]]),
    items: new Map([['i1', { id: 'i1', price: 7, stock: 10, hot: false }]]),
  };
  const order: FoundOrder = { paid, items: [['i1', 2]], user_id: 'u1', total_cost: 14 };
  const api: ApiState = { orders: new Map([['o1', order]]), stock: new Map([['i1', finalStock]]), credit: new Map([['u1', finalCredit]]) };
  const redis: RedisState = {
    activeTx: [],
    orders: new Map([['o1', { p: paid ? '1' : '0', x: '', u: 'u1' }]]),
    items: new Map([['i1', { a: finalStock, h: 0 }]]),
    users: new Map([['u1', { a: finalCredit, h: 0 }]]),
    txByOrder: new Map([['o1', ['t1', 't2']]]),
  };
  return { seed: 42, history, initial, api, redis, quiescent: true };
}

describe('chaos checker', () => {
  test('a consistent history and final state has no violation', () => {
    assert.deepEqual(check(scenario(86, 8)), []);
  });

  test('a double charge is reported with the order, its transactions and the seed', () => {
    const violations = check(scenario(72, 8));
    assert.equal(violations.length, 1, violations.map(formatViolation).join('\n'));
    const v = violations[0]!;
    assert.equal(v.rule, 'credit');
    assert.equal(v.seed, 42);
    assert.match(v.message, /credit 72, expected 86/);
    assert.match(v.message, /suspects: o1/);
  });

  test('a 200 on an order that ended unpaid and untouched is reported', () => {
    const rules = check(scenario(100, 10, false)).map((v) => v.rule);
    assert.deepEqual(rules, ['answered-200-unpaid']);
  });
});

describe('chaos checker: adds of one item merge into one line', () => {
  /** `scenario`'s order built by two adds of i1 (1 + 1), one of whose answers may be lost. */
  function merged(final: number, secondAcked: boolean): CheckInput {
    const input = scenario(86, 8);
    input.history.addItems.length = 0;
    input.history.addItems.push({ orderId: 'o1', itemId: 'i1', qty: 1, racing: false, attempts: [], final: { status: 200 } });
    input.history.addItems.push({
      orderId: 'o1',
      itemId: 'i1',
      qty: 1,
      racing: false,
      attempts: [{ start: 0, end: 5, status: 502, indeterminate: '502' }],
      final: secondAcked ? { status: 200 } : undefined,
    });
    input.api.orders.set('o1', { paid: true, items: [['i1', final]], user_id: 'u1', total_cost: 7 * final });
    return input;
  }

  test('two acknowledged adds in one line of their sum pass', () => {
    assert.deepEqual(check(merged(2, true)).filter((v) => v.rule.startsWith('line')), []);
  });

  test('a lost-answer add may or may not be in the line', () => {
    assert.deepEqual(check(merged(1, false)).filter((v) => v.rule.startsWith('line')), []);
    assert.deepEqual(check(merged(2, false)).filter((v) => v.rule.startsWith('line')), []);
  });

  test('a line short of its acknowledged adds is reported lost; one beyond every explanation, unexpected', () => {
    const rules = (input: CheckInput) => check(input).filter((v) => v.rule.startsWith('line')).map((v) => v.rule);
    assert.deepEqual(rules(merged(1, true)), ['line-lost']);
    assert.deepEqual(rules(merged(3, true)), ['line-unexpected']);
    assert.deepEqual(rules(merged(3, false)), ['line-unexpected']);
  });
});

/** `scenario` plus an order of 1 × i1 for a user that does not exist, refused with `code`. */
function withGhostCheckout(finalStock: number, code: string): CheckInput {
  const input = scenario(86, finalStock);
  input.history.addOrder({ orderId: 'g1', userId: 'nobody' });
  input.history.addItems.push({ orderId: 'g1', itemId: 'i1', qty: 1, racing: false, attempts: [], final: { status: 200 } });
  input.history.addCheckout({ orderId: 'g1', kind: 'ghost-user', attempts: [{ start: 0, end: 5, status: 400, code }], final: { status: 400, code } });
  input.api.orders.set('g1', { paid: false, items: [['i1', 1]], user_id: 'nobody', total_cost: 7 });
  input.redis.orders.set('g1', { p: '0', x: '', u: 'nobody' });
  return input;
}

describe('chaos checker: an order of a user that does not exist', () => {
  test('is refused UNKNOWN_USER', () => {
    assert.deepEqual(check(withGhostCheckout(8, 'UNKNOWN_USER')), []);
  });

  test('may be refused OUT_OF_STOCK when its item is sold out (stock is checked first)', () => {
    const input = withGhostCheckout(0, 'OUT_OF_STOCK');
    assert.deepEqual(
      check(input).filter((v) => v.rule === 'ghost-user'),
      [],
    );
  });

  test('refused OUT_OF_STOCK while its item is in stock is reported', () => {
    const rules = check(withGhostCheckout(8, 'OUT_OF_STOCK')).map((v) => v.rule);
    assert.deepEqual(rules, ['ghost-user']);
  });
});

describe('chaos run', () => {
  test('a fixed-seed run with service faults ends with no violation and no final 5xx', { timeout: 300_000 }, async () => {
    const report = await runChaos(
      { durationS: 45, seed: 20261125, faults: ['service'], rateS: 4, layout: 'ha', replicas: 2, concurrency: 32, reportDir: 'bench/results/chaos' },
      { write: false },
    );
    assert.ok(report.faults.length > 0, 'no fault was injected');
    assert.ok(report.checkouts.total > 100, `only ${report.checkouts.total} checkouts ran`);
    // A storm's failure is hard to reproduce (timing varies): the message carries the whole summary.
    assert.equal(report.checkouts.byFinal['no definite answer'] ?? 0, 0, `a checkout ended on a 5xx or no answer\n${summary(report)}`);
    assert.deepEqual(report.violations.map(formatViolation), [], summary(report));
  });
});

describe('chaos run on 2 shards', () => {
  test('service and database faults across both shards end with no violation and no failed attempt', { timeout: 300_000 }, async () => {
    const report = await runChaos(
      {
        durationS: 45,
        seed: 20261202,
        faults: ['service', 'db'],
        rateS: 3,
        layout: 'ha',
        replicas: 2,
        shards: 2,
        concurrency: 32,
        reportDir: 'bench/results/chaos',
      },
      { write: false },
    );
    assert.ok(
      report.faults.some((f) => f.kind.startsWith('db') && /-s1-redis-/.test(f.target)),
      `no database fault hit a shard-1 group: ${report.faults.map((f) => `${f.kind} ${f.target}`).join(', ')}`,
    );
    assert.ok(report.checkouts.total > 100, `only ${report.checkouts.total} checkouts ran`);
    assert.equal(report.availability.failedAttempts.total, 0, `a checkout attempt failed\n${summary(report)}`);
    assert.deepEqual(report.violations.map(formatViolation), [], summary(report));
  });
});

describe('storm run', () => {
  test('a fixed-seed storm (overlapping faults of every kind) ends with no violation: no failure while a path existed', { timeout: 300_000 }, async () => {
    const report = await runChaos(
      {
        durationS: 45,
        seed: 20261201,
        faults: ['service', 'db', 'sentinel', 'gateway'],
        rateS: 4,
        storm: { everyS: 2 },
        layout: 'ha',
        replicas: 2,
        concurrency: 32,
        reportDir: 'bench/results/chaos',
      },
      { write: false },
    );
    const kinds = new Set(report.faults.map((f) => f.kind.split('-')[0]));
    assert.ok(kinds.size >= 3, `faults hit only ${[...kinds].join(', ')}`);
    // The point of a storm: faults that do not wait for each other.
    const overlapping = report.faults.some((f, i) => report.faults.slice(i + 1).some((g) => g.at < (f.endedAt ?? Infinity)));
    assert.ok(overlapping, 'no two faults overlapped');
    assert.ok(report.checkouts.total > 100, `only ${report.checkouts.total} checkouts ran`);
    // A storm's failure is hard to reproduce (timing varies): the message carries the whole summary.
    assert.equal(report.checkouts.byFinal['no definite answer'] ?? 0, 0, `a checkout ended on a 5xx or no answer\n${summary(report)}`);
    assert.deepEqual(report.violations.map(formatViolation), [], summary(report));
  });
});
