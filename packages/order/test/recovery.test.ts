/**
 * Recovery (recovery.ts) in process: the real Recovery, Coordinator and OrderStore on a real
 * redis-server, scripted participants. A transaction whose driver gave up is finished by a
 * pass; one leased by another replica is left to it; one that keeps failing is put off,
 * then parked, and still counted unfinished.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ShopError } from '@shop/common/errors.js';
import { PARTICIPANT_REFUSALS, type ApplyResult, type ParticipantName, type ReserveResult, type TxStep } from '@shop/common/ledger/protocol.js';
import { startOrderStore } from './support/order-store.js';
import { Coordinator } from '../src/checkout.js';
import { ACTIVE_KEY, PARKED_KEY, leaseKey, orderKey, txKey } from '../src/keys.js';
import type { StepPort } from '../src/participants.js';
import { Recovery, type RecoveryOptions } from '../src/recovery.js';
import { OrderShards } from '../src/shards.js';

const log = pino({ level: 'silent' });
let db: Awaited<ReturnType<typeof startOrderStore>>;
before(async () => {
  db = await startOrderStore();
});
after(async () => db.server.stop());

/** A participant whose reserve answers as told; commit and abort always apply. */
class Scripted implements StepPort {
  readonly codes;
  readonly calls: string[] = [];

  constructor(
    name: ParticipantName,
    private readonly reserveAnswer: () => Promise<ReserveResult>,
  ) {
    this.codes = PARTICIPANT_REFUSALS[name];
  }

  readonly reserve = (step: TxStep): Promise<ReserveResult> => {
    this.calls.push(`reserve ${step.tx}`);
    return this.reserveAnswer();
  };
  readonly commit = async (step: TxStep): Promise<ApplyResult> => {
    this.calls.push(`commit ${step.tx}`);
    return 'OK';
  };
  readonly abort = async (step: TxStep): Promise<ApplyResult> => {
    this.calls.push(`abort ${step.tx}`);
    return 'OK';
  };
}

const ok = async (): Promise<ReserveResult> => ({ code: 'OK' });
const busy = async (): Promise<ReserveResult> => ({ code: 'BUSY', line: 0 });

function coordinatorWith(stock: StepPort, payment: StepPort, budgetMs = 2_000): Coordinator {
  return new Coordinator(new OrderShards([db.store]), { stock, payment }, log, { budgetMs });
}

/** Options for a test: anything unfinished is stale at once; no timer (passes run by hand). */
function options(overrides: Partial<RecoveryOptions> = {}): RecoveryOptions {
  return { staleAfterMs: 0, intervalMs: 60_000, leaseMs: 3_000, pageSize: 10, retry: { firstMs: 60_000, maxMs: 60_000, parkAfter: 3 }, ...overrides };
}

/**
 * An order whose checkout was begun and left undecided: its driver met BUSY at stock until
 * its budget ran out (a 503, T left for recovery). Returns the order and T.
 */
async function abandonedCheckout(): Promise<{ orderId: string; txId: string }> {
  const orderId = randomUUID();
  await db.store.create(orderId, 'u1');
  await db.store.addItem(orderId, 'item-1', 2, 10);
  const stock = new Scripted('stock', busy);
  const driver = coordinatorWith(stock, new Scripted('payment', busy), 200);
  await assert.rejects(driver.checkout(orderId), (err: unknown) => err instanceof ShopError && err.code === 'UNAVAILABLE');
  const txId = stock.calls[0]?.split(' ')[1];
  assert.ok(txId !== undefined, 'the driver asked stock');
  assert.notEqual(await db.redis.zscore(ACTIVE_KEY, txId), null, 'T is left unfinished');
  return { orderId, txId };
}

describe('recovery', () => {
  test('a pass drives a transaction its driver gave up on to its outcome, and retires it', async () => {
    const { orderId, txId } = await abandonedCheckout();
    const stock = new Scripted('stock', ok);
    const payment = new Scripted('payment', ok);
    await new Recovery(db.store, coordinatorWith(stock, payment), 'order-test', log, options()).sweep();
    assert.deepEqual(stock.calls, [`reserve ${txId}`, `commit ${txId}`]);
    assert.deepEqual(payment.calls, [`reserve ${txId}`, `commit ${txId}`]);
    assert.equal(await db.redis.hget(txKey(txId), 'd'), 'commit');
    assert.equal(await db.redis.hget(orderKey(orderId), 'p'), '1', 'the order is paid');
    assert.equal(await db.redis.zscore(ACTIVE_KEY, txId), null, 'retired');
  });

  test('a transaction another replica holds the lease of is left to it', async () => {
    const { txId } = await abandonedCheckout();
    await db.redis.set(leaseKey(txId), 'order-other', 'PX', 5_000);
    const stock = new Scripted('stock', ok);
    await new Recovery(db.store, coordinatorWith(stock, new Scripted('payment', ok)), 'order-test', log, options()).sweep();
    assert.deepEqual(stock.calls, [], 'nothing asked');
    assert.notEqual(await db.redis.zscore(ACTIVE_KEY, txId), null, 'still unfinished');
    await db.redis.del(leaseKey(txId));
    await new Recovery(db.store, coordinatorWith(stock, new Scripted('payment', ok)), 'order-test', log, options()).sweep();
    assert.equal(await db.redis.zscore(ACTIVE_KEY, txId), null, 'finished once the lease is gone');
  });

  test('a failed attempt puts the transaction off; after parkAfter failures it is parked, still unfinished', async () => {
    const { txId } = await abandonedCheckout();
    const poisoned = new Scripted('stock', async () => {
      throw new Error('a step this participant cannot run');
    });
    const failing = coordinatorWith(poisoned, new Scripted('payment', ok));
    // Put off by a minute: the next pass does not take it.
    const patient = new Recovery(db.store, failing, 'order-test', log, options({ leaseMs: 1 }));
    await patient.sweep();
    assert.equal(await db.redis.hget(txKey(txId), 'f'), '1', 'one failure counted');
    assert.ok(Number(await db.redis.zscore(ACTIVE_KEY, txId)) > Date.now() + 50_000, 'put off by about firstMs');
    await new Promise((r) => setTimeout(r, 5));
    await patient.sweep();
    assert.equal(poisoned.calls.length, 1, 'not taken again before its delay');

    // With no delay, every pass takes it and fails; the third failure parks it.
    await db.redis.zadd(ACTIVE_KEY, 0, txId);
    const hasty = new Recovery(db.store, failing, 'order-test', log, options({ leaseMs: 1, retry: { firstMs: 0, maxMs: 0, parkAfter: 3 } }));
    for (let pass = 0; pass < 2; pass++) {
      await new Promise((r) => setTimeout(r, 5));
      await hasty.sweep();
    }
    assert.equal(await db.redis.hget(txKey(txId), 'f'), '3');
    assert.equal(await db.redis.sismember(PARKED_KEY, txId), 1, 'parked');
    assert.notEqual(await db.redis.zscore(ACTIVE_KEY, txId), null, 'parked is still unfinished: tried again later');
  });
});
