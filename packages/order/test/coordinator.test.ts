/**
 * The checkout protocol (checkout.ts) in process: the real Coordinator and OrderStore on a
 * real redis-server, with scripted participants in place of the stock and payment services.
 * Every arm of the protocol, its outcome, the decision recorded in otx:<T> (fields d and r),
 * and the order of what the participants were told.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { ShopError, UnknownOutcomeError } from '@shop/common/errors.js';
import {
  MAX_STEP_LINES,
  PARTICIPANT_REFUSALS,
  type ApplyResult,
  type Line,
  type ParticipantName,
  type ReserveResult,
  type StepKind,
  type TxStep,
} from '@shop/common/ledger/protocol.js';
import { Coordinator, RETRY_IN_ORDER, type Outcome } from '../src/checkout.js';
import { ACTIVE_KEY, FREEZE_KEY, orderKey, txKey } from '../src/keys.js';
import type { CoordinatedParticipants, StepPort } from '../src/participants.js';
import type { OrderStore, TxRecord } from '../src/store.js';
import { OrderShards } from '../src/shards.js';
import type { TestRedis } from '@shop/common/testing/redis-server.js';
import { startOrderStore } from './support/order-store.js';
import { sleep, waitFor } from '@shop/common/probes.js';

let server: TestRedis;
let redis: Redis;
let store: OrderStore;
const log = pino({ level: 'silent' });

before(async () => {
  ({ server, redis, store } = await startOrderStore());
});
after(async () => server.stop());

/**
 * One scripted answer: a result, an error to throw, or a function computing either. The
 * answers of an operation are used in turn; the last one repeats.
 */
type Answer<R> = R | Error | ((step: TxStep) => R | Promise<R>);
interface Script {
  reserve?: Answer<ReserveResult>[];
  commit?: Answer<ApplyResult>[];
  abort?: Answer<ApplyResult>[];
}

/**
 * A participant as the coordinator sees it (reserve, commit, abort, codes), without HTTP.
 * Every call is logged into `events` twice: `<name>.<op>` when made, `<name>.<op> done`
 * when its answer is delivered (answers arrive a few ms later, as over a network).
 */
class FakeParticipant implements StepPort {
  readonly codes;
  readonly calls: { op: StepKind; step: TxStep }[] = [];
  private readonly count = { reserve: 0, commit: 0, abort: 0 };

  constructor(
    readonly name: ParticipantName,
    private readonly events: string[],
    private readonly script: Script,
  ) {
    this.codes = PARTICIPANT_REFUSALS[name];
  }

  readonly reserve = (step: TxStep) => this.answer<ReserveResult>('reserve', step, this.script.reserve ?? [{ code: 'OK' }]);
  readonly commit = (step: TxStep) => this.answer<ApplyResult>('commit', step, this.script.commit ?? ['OK']);
  readonly abort = (step: TxStep) => this.answer<ApplyResult>('abort', step, this.script.abort ?? ['OK']);

  ops(op: StepKind): TxStep[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.step);
  }

  private async answer<R>(op: StepKind, step: TxStep, answers: Answer<R>[]): Promise<R> {
    this.calls.push({ op, step: structuredClone(step) });
    this.events.push(`${this.name}.${op}`);
    const answer = answers[Math.min(this.count[op]++, answers.length - 1)]!;
    await sleep(3);
    try {
      if (answer instanceof Error) throw answer;
      return typeof answer === 'function' ? await (answer as (s: TxStep) => R | Promise<R>)(step) : answer;
    } finally {
      this.events.push(`${this.name}.${op} done`);
    }
  }
}

interface Harness {
  coordinator: Coordinator;
  stock: FakeParticipant;
  payment: FakeParticipant;
  events: string[];
}

function harness(scripts: { stock?: Script; payment?: Script }, budgetMs = 2_000): Harness {
  const events: string[] = [];
  const stock = new FakeParticipant('stock', events, scripts.stock ?? {});
  const payment = new FakeParticipant('payment', events, scripts.payment ?? {});
  const participants: CoordinatedParticipants = { stock, payment };
  return { coordinator: new Coordinator(new OrderShards([store]), participants, log, { budgetMs }), stock, payment, events };
}

/** An order of user `user` with lines [item, quantity, cost]; the same item twice merges. */
async function orderWith(lines: [string, number, number][], user = 'u1'): Promise<string> {
  const o = randomUUID();
  await store.create(o, user);
  for (const [item, qty, cost] of lines) await store.addItem(o, item, qty, cost);
  return o;
}

/** Checks out and logs 'answered' into the events the moment the outcome is delivered. */
async function checkout(h: Harness, orderId: string): Promise<Outcome> {
  const outcome = await h.coordinator.checkout(orderId);
  h.events.push('answered');
  return outcome;
}

/** The transaction id that the first reserve at stock (or else payment) named. */
function txOf(h: Harness): string {
  const step = h.stock.calls[0]?.step ?? h.payment.calls[0]?.step;
  assert.ok(step, 'no participant was called');
  return step.tx;
}

async function record(txId: string): Promise<{ d: string | null; r: string | null }> {
  const [d, r] = await redis.hmget(txKey(txId), 'd', 'r');
  return { d: d ?? null, r: r ?? null };
}

const isActive = async (txId: string): Promise<boolean> => (await redis.zscore(ACTIVE_KEY, txId)) !== null;

async function waitRetired(txId: string): Promise<void> {
  await waitFor(`${txId} retired from ${ACTIVE_KEY}`, async () => !(await isActive(txId)), { timeoutMs: 3_000, intervalMs: 10 });
}

/** Both participants' aborts were delivered before the refusal was answered. */
function assertAbortedBeforeAnswer(h: Harness): void {
  const answered = h.events.indexOf('answered');
  assert.ok(answered >= 0, 'not answered');
  for (const name of ['stock', 'payment']) {
    const done = h.events.indexOf(`${name}.abort done`);
    assert.ok(done >= 0 && done < answered, `${name} abort must be done before the answer: ${h.events.join(', ')}`);
  }
  assert.equal(h.stock.ops('commit').length + h.payment.ops('commit').length, 0, 'no commit after an abort');
}

/** A refusal: the outcome, the recorded abort and its reason, aborts before the answer, T retired. */
async function assertRefused(h: Harness, outcome: Outcome, code: string): Promise<void> {
  assert.deepEqual(outcome, { kind: 'refused', code });
  const txId = txOf(h);
  assert.deepEqual(await record(txId), { d: 'abort', r: code });
  assertAbortedBeforeAnswer(h);
  assert.equal(await isActive(txId), false, 'an aborted transaction is retired before the answer');
}

describe('a snapshot freezing new checkouts', () => {
  test('a checkout begun while frozen waits, then commits once the freeze is lifted', async () => {
    const h = harness({});
    const o = await orderWith([['a', 1, 5]]);
    await redis.set(FREEZE_KEY, '1', 'PX', 10_000);
    const answer = checkout(h, o);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(h.events, [], 'nothing asked, nothing answered while frozen');
    await redis.del(FREEZE_KEY);
    assert.deepEqual(await answer, { kind: 'committed', alreadyPaid: false });
  });

  test('a freeze outlasting the budget answers 503 UNAVAILABLE and opens nothing', async () => {
    const h = harness({}, 300);
    const o = await orderWith([['a', 1, 5]]);
    await redis.set(FREEZE_KEY, '1', 'PX', 10_000);
    try {
      await assert.rejects(checkout(h, o), (err: unknown) => err instanceof ShopError && err.code === 'UNAVAILABLE');
      assert.equal((await redis.hget(orderKey(o), 'x')) ?? '', '');
    } finally {
      await redis.del(FREEZE_KEY);
    }
  });
});

describe('Coordinator: commit', () => {
  test('both reserve OK: committed, paid flag set, commit sent to both, transaction retired', async () => {
    const h = harness({});
    const o = await orderWith([['a', 2, 6], ['b', 1, 4], ['a', 1, 3]], 'u7');
    assert.deepEqual(await checkout(h, o), { kind: 'committed', alreadyPaid: false });
    const txId = txOf(h);
    assert.deepEqual(await record(txId), { d: 'commit', r: '' });
    assert.equal((await store.find(o))?.paid, true);
    // Stock (every line, merged) and payment (the total) asked at once, each once.
    assert.deepEqual(h.events.slice(0, 2), ['stock.reserve', 'payment.reserve']);
    const stockStep = { tx: txId, lines: [['a', 3], ['b', 1]] as Line[] };
    const paymentStep = { tx: txId, lines: [['u7', 13]] as Line[] };
    assert.deepEqual(h.stock.ops('reserve'), [stockStep]);
    assert.deepEqual(h.payment.ops('reserve'), [paymentStep]);
    // The commit is applied after the answer; wait for it.
    await waitRetired(txId);
    assert.deepEqual(h.stock.ops('commit'), [stockStep]);
    assert.deepEqual(h.payment.ops('commit'), [paymentStep]);
    assert.deepEqual(h.stock.ops('abort').concat(h.payment.ops('abort')), []);
  });

  test('BUSY a few times, then OK: committed (contention is not failure)', async () => {
    const busy: ReserveResult = { code: 'BUSY', line: 0 };
    const h = harness({ stock: { reserve: [busy, busy, busy, { code: 'OK' }] }, payment: { reserve: [busy, busy, { code: 'OK' }] } });
    const o = await orderWith([['a', 1, 5]]);
    assert.deepEqual(await checkout(h, o), { kind: 'committed', alreadyPaid: false });
    assert.equal(h.stock.ops('reserve').length, 4);
    assert.equal(h.payment.ops('reserve').length, 3);
    assert.ok(h.stock.ops('reserve').every((s) => s.tx === txOf(h)), 'every retry is the same step of the same T');
    assert.deepEqual(await record(txOf(h)), { d: 'commit', r: '' });
    await waitRetired(txOf(h));
  });

  test('an unknown outcome of a reserve, then OK: the step is replayed and the checkout commits', async () => {
    const h = harness({
      stock: { reserve: [new UnknownOutcomeError('stock timed out'), { code: 'OK' }] },
      payment: { reserve: [new UnknownOutcomeError('payment timed out'), new UnknownOutcomeError('again'), { code: 'OK' }] },
    });
    const o = await orderWith([['a', 1, 5]]);
    assert.deepEqual(await checkout(h, o), { kind: 'committed', alreadyPaid: false });
    const [first, replay] = h.stock.ops('reserve');
    assert.ok(first && replay);
    assert.deepEqual(replay, first, 'the replay is the same step');
    assert.equal(h.payment.ops('reserve').length, 3);
    assert.deepEqual(await record(txOf(h)), { d: 'commit', r: '' });
    await waitRetired(txOf(h));
  });

  test('an unknown outcome of a commit is replayed until applied; only then is T retired', async () => {
    const h = harness({ payment: { commit: [new UnknownOutcomeError('lost'), new UnknownOutcomeError('lost'), 'OK'] } });
    const o = await orderWith([['a', 1, 5]]);
    assert.deepEqual(await checkout(h, o), { kind: 'committed', alreadyPaid: false });
    await waitRetired(txOf(h));
    assert.equal(h.payment.ops('commit').length, 3);
    assert.equal(new Set(h.payment.ops('commit').map((s) => s.tx)).size, 1, 'the same step each time');
  });

  test('an order already paid: committed alreadyPaid, no participant called', async () => {
    const o = await orderWith([['a', 1, 5]]);
    const first = harness({});
    assert.deepEqual(await checkout(first, o), { kind: 'committed', alreadyPaid: false });
    await waitRetired(txOf(first));
    const h = harness({});
    assert.deepEqual(await checkout(h, o), { kind: 'committed', alreadyPaid: true });
    assert.deepEqual(h.events, ['answered']);
  });
});

describe('Coordinator: the first round asks both at once, waits go in turn', () => {
  const busy: ReserveResult = { code: 'BUSY', line: 0 };

  test('stock held, payment BUSY: waits for payment holding stock (the order of every wait), one T', async () => {
    const h = harness({ payment: { reserve: [busy, busy, { code: 'OK' }] } });
    assert.deepEqual(await checkout(h, await orderWith([['a', 1, 5]])), { kind: 'committed', alreadyPaid: false });
    assert.equal(h.stock.ops('reserve').length, 1);
    assert.equal(h.payment.ops('reserve').length, 3);
    assert.deepEqual(await record(txOf(h)), { d: 'commit', r: '' });
    await waitRetired(txOf(h));
  });

  test('both BUSY: nothing held, so stock is waited for first, then payment, one T', async () => {
    const h = harness({ stock: { reserve: [busy, busy, { code: 'OK' }] }, payment: { reserve: [busy, { code: 'OK' }] } });
    assert.deepEqual(await checkout(h, await orderWith([['a', 1, 5]])), { kind: 'committed', alreadyPaid: false });
    const afterFirstRound = h.events.slice(4).filter((e) => e.endsWith('.reserve'));
    assert.deepEqual(afterFirstRound, ['stock.reserve', 'stock.reserve', 'payment.reserve'], h.events.join(', '));
    assert.equal(new Set(h.stock.ops('reserve').concat(h.payment.ops('reserve')).map((s) => s.tx)).size, 1);
    await waitRetired(txOf(h));
  });

  test('stock BUSY while payment held: T aborted RETRY_IN_ORDER (credit returned), then a new T asked in turn commits', async () => {
    const h = harness({ stock: { reserve: [busy, { code: 'OK' }] } });
    const o = await orderWith([['a', 1, 5]]);
    assert.deepEqual(await checkout(h, o), { kind: 'committed', alreadyPaid: false });
    const [first, second] = [...new Set(h.stock.ops('reserve').map((s) => s.tx))];
    assert.ok(first && second && first !== second, 'a second transaction');
    assert.deepEqual(await record(first), { d: 'abort', r: RETRY_IN_ORDER });
    assert.deepEqual(await record(second), { d: 'commit', r: '' });
    assert.deepEqual(h.payment.ops('abort').map((s) => s.tx), [first], 'the credit the first T held is returned');
    assert.ok(
      h.events.indexOf('payment.abort done') < h.events.lastIndexOf('stock.reserve'),
      `the first T is undone before the second asks: ${h.events.join(', ')}`,
    );
    // The second T asks in turn: its payment reserve follows its stock reserve's answer.
    const secondEvents = h.events.slice(h.events.lastIndexOf('stock.reserve'));
    assert.deepEqual(secondEvents.slice(0, 3), ['stock.reserve', 'stock.reserve done', 'payment.reserve']);
    assert.equal((await store.find(o))?.paid, true);
    await waitRetired(second);
    assert.equal(await isActive(first), false);
  });

  test('a driver that joins a T aborted RETRY_IN_ORDER checks the order out again; recovery only retires it', async () => {
    const o = await orderWith([['a', 1, 5]]);
    const begun = await store.begin(o, randomUUID());
    const tx = (begun as { tx: TxRecord }).tx;
    await store.decide(tx, 'abort', RETRY_IN_ORDER);
    const decided = await store.load(tx.id);
    assert.ok(decided);
    const recovery = harness({});
    assert.deepEqual(await recovery.coordinator.drive(decided, Date.now() + 2_000, { untilFinished: true }), { kind: 'refused', code: 'UNAVAILABLE' });
    assert.deepEqual(recovery.stock.ops('reserve'), [], 'recovery starts no new checkout');
    const client = harness({});
    assert.deepEqual(await client.coordinator.drive(decided, Date.now() + 2_000, { client: true }), { kind: 'committed', alreadyPaid: false });
    const again = client.stock.ops('reserve')[0]?.tx;
    assert.ok(again !== undefined && again !== tx.id, 'a new transaction');
    assert.deepEqual(client.stock.ops('abort').map((s) => s.tx), [tx.id], 'the aborted one is undone first');
    assert.equal((await store.find(o))?.paid, true);
    await waitRetired(again);
  });
});

describe('Coordinator: refusals', () => {
  test('stock UNKNOWN: refused UNKNOWN_ITEM, abort at both before the answer (the credit held at once is returned)', async () => {
    const h = harness({ stock: { reserve: [{ code: 'UNKNOWN', line: 0 }] } });
    const o = await orderWith([['nope', 1, 5]]);
    await assertRefused(h, await checkout(h, o), 'UNKNOWN_ITEM');
    assert.deepEqual(h.payment.ops('abort'), h.payment.ops('reserve'), 'the credit held is returned');
    assert.equal((await store.find(o))?.paid, false);
  });

  test('stock INSUFFICIENT: refused OUT_OF_STOCK, even when payment refuses too (stock answers first, as in turn)', async () => {
    const h = harness({ stock: { reserve: [{ code: 'INSUFFICIENT', line: 0 }] }, payment: { reserve: [{ code: 'INSUFFICIENT', line: 0 }] } });
    const o = await orderWith([['a', 100, 5]]);
    await assertRefused(h, await checkout(h, o), 'OUT_OF_STOCK');
  });

  test('stock BUSY while payment refuses: refused INSUFFICIENT_CREDIT at once (refused in every serial order)', async () => {
    const h = harness({ stock: { reserve: [{ code: 'BUSY', line: 0 }] }, payment: { reserve: [{ code: 'INSUFFICIENT', line: 0 }] } });
    await assertRefused(h, await checkout(h, await orderWith([['a', 1, 500]])), 'INSUFFICIENT_CREDIT');
    assert.equal(h.stock.ops('reserve').length, 1, 'no wait for stock');
  });

  test('payment INSUFFICIENT: refused INSUFFICIENT_CREDIT, the stock it held aborted', async () => {
    const h = harness({ payment: { reserve: [{ code: 'INSUFFICIENT', line: 0 }] } });
    const o = await orderWith([['a', 1, 500]]);
    await assertRefused(h, await checkout(h, o), 'INSUFFICIENT_CREDIT');
    assert.deepEqual(h.stock.ops('abort'), h.stock.ops('reserve'), 'the held stock is returned');
    assert.equal((await store.find(o))?.paid, false);
  });

  test('payment UNKNOWN: refused UNKNOWN_USER', async () => {
    const h = harness({ payment: { reserve: [{ code: 'UNKNOWN', line: 0 }] } });
    await assertRefused(h, await checkout(h, await orderWith([['a', 1, 5]], 'ghost')), 'UNKNOWN_USER');
  });

  test('a participant answers INVALID: refused ORDER_TOO_LARGE; its INVALID abort counts as done', async () => {
    const h = harness({ stock: { reserve: [{ code: 'INVALID', reason: 'too many lines' }], abort: ['INVALID'] } });
    await assertRefused(h, await checkout(h, await orderWith([['a', 1, 5]])), 'ORDER_TOO_LARGE');
  });

  test('a step over the limits is refused ORDER_TOO_LARGE without being sent', async () => {
    // add_item refuses such an order; batch_init (putMany) is the one way to make one.
    const lines = Array.from({ length: MAX_STEP_LINES + 1 }, (_, i): Line => [`i${i}`, 1]);
    await store.putMany([['0', { userId: 'u1', lines, total: lines.length }]]);
    const h = harness({});
    assert.deepEqual(await checkout(h, '0'), { kind: 'refused', code: 'ORDER_TOO_LARGE' });
    assert.deepEqual(h.stock.calls, [], 'a step no participant could apply is never sent');
    assert.deepEqual(h.payment.ops('reserve'), []);
    assert.equal((await store.find('0'))?.paid, false);
  });

  test('unknown and empty orders: UNKNOWN_ORDER and EMPTY_ORDER, no participant called', async () => {
    const h = harness({});
    assert.deepEqual(await checkout(h, randomUUID()), { kind: 'refused', code: 'UNKNOWN_ORDER' });
    assert.deepEqual(await checkout(h, await orderWith([])), { kind: 'refused', code: 'EMPTY_ORDER' });
    assert.deepEqual(h.events, ['answered', 'answered']);
  });
});

describe('Coordinator: deadlines and concurrent drivers', () => {
  test('BUSY until the deadline: a 503-class ShopError, T left undecided in otx:active for recovery', async () => {
    // Payment BUSY too: nothing is held after the first round, so T waits for stock in turn.
    const busy: ReserveResult = { code: 'BUSY', line: 0 };
    const h = harness({ stock: { reserve: [busy] }, payment: { reserve: [busy] } }, 300);
    const o = await orderWith([['a', 1, 5]]);
    const started = Date.now();
    await assert.rejects(checkout(h, o), (err: unknown) => {
      assert.ok(err instanceof ShopError, String(err));
      assert.equal(err.status, 503);
      return true;
    });
    assert.ok(Date.now() - started < 2_000, 'the budget bounds the wait');
    assert.ok(h.stock.ops('reserve').length > 1, 'asked again while BUSY');
    assert.equal(h.payment.ops('reserve').length, 1, 'payment asked only in the first round: in turn, stock comes first');
    const txId = txOf(h);
    assert.equal(await isActive(txId), true);
    assert.deepEqual(await record(txId), { d: '', r: '' });
    assert.deepEqual(h.stock.ops('abort').concat(h.payment.ops('abort')), []);
  });

  test('a racing abort: the participant answers ABORTED because another driver decided abort; the recorded abort wins', async () => {
    const h = harness({
      payment: {
        reserve: [
          async (step) => {
            // Another driver decided abort (for its own reason) before this reserve ran.
            const tx = await store.load(step.tx);
            assert.ok(tx);
            assert.deepEqual(await store.decide(tx, 'abort', 'UNKNOWN_USER'), { decision: 'abort', reason: 'UNKNOWN_USER' });
            return { code: 'ABORTED' };
          },
        ],
      },
    });
    const o = await orderWith([['a', 1, 5]]);
    // This driver would say INSUFFICIENT_CREDIT for an ABORTED payment; the recorded reason wins.
    await assertRefused(h, await checkout(h, o), 'UNKNOWN_USER');
    assert.equal((await store.find(o))?.paid, false);
  });

  test('a second driver of the same record, concurrently, adopts the first decision', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const h = harness({
      stock: {
        reserve: [
          // Driver 1: stock lacks the item, answered once driver 2 is under way.
          async () => {
            await gate;
            return { code: 'UNKNOWN', line: 0 };
          },
          // Driver 2: its replay arrives after driver 1's abort left a tombstone.
          async (step) => {
            await waitFor('driver 1 decided', async () => (await record(step.tx)).d !== '', { timeoutMs: 2_000, intervalMs: 5 });
            return { code: 'ABORTED' };
          },
        ],
      },
    });
    const o = await orderWith([['a', 1, 5]]);
    const first = checkout(h, o);
    await waitFor('driver 1 reserving', async () => h.stock.calls.length === 1, { timeoutMs: 2_000, intervalMs: 2 });
    // Driver 2 (a re-sent request on another replica) joins the open T and drives its record.
    const joined = await store.begin(o, randomUUID());
    assert.equal(joined.kind, 'TX');
    const tx: TxRecord = (joined as { tx: TxRecord }).tx;
    assert.equal(tx.id, txOf(h));
    assert.equal(tx.decision, '');
    const secondDriver = h.coordinator.drive(tx, Date.now() + 2_000);
    await waitFor('driver 2 reserving', async () => h.stock.calls.length === 2, { timeoutMs: 2_000, intervalMs: 2 });
    release();
    const [one, two] = await Promise.all([first, secondDriver]);
    // Driver 2 alone would have said OUT_OF_STOCK (ABORTED at stock); it adopts UNKNOWN_ITEM.
    assert.deepEqual(one, { kind: 'refused', code: 'UNKNOWN_ITEM' });
    assert.deepEqual(two, one);
    assert.deepEqual(await record(tx.id), { d: 'abort', r: 'UNKNOWN_ITEM' });
    assert.equal(await isActive(tx.id), false);
    assert.equal((await store.find(o))?.paid, false);
  });

  test('a driver of a record whose commit is already recorded applies it without voting', async () => {
    const o = await orderWith([['a', 2, 5]]);
    const begun = await store.begin(o, randomUUID());
    assert.equal(begun.kind, 'TX');
    const tx = (begun as { tx: TxRecord }).tx;
    await store.decide(tx, 'commit', '');
    const decided = await store.load(tx.id);
    assert.ok(decided);
    const h = harness({});
    assert.deepEqual(await h.coordinator.drive(decided, Date.now() + 2_000, { untilFinished: true }), { kind: 'committed', alreadyPaid: false });
    assert.deepEqual(h.stock.ops('reserve').concat(h.payment.ops('reserve')), []);
    assert.deepEqual(h.stock.ops('commit'), [{ tx: tx.id, lines: [['a', 2]] }]);
    assert.deepEqual(h.payment.ops('commit'), [{ tx: tx.id, lines: [['u1', 5]] }]);
    assert.equal(await isActive(tx.id), false, 'untilFinished: retired before it resolves');
  });
});
