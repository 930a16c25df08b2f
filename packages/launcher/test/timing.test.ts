/**
 * The relations between timing budgets that the design relies on (packages/common/src/timing.ts), with the gateway (packages/launcher/src/routes.ts).
 * Whoever changes one number sees here which others it interacts with.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SENTINEL_TIMING } from '../src/topology.js';
import { ROUTES } from '../src/routes.js';
import { BACKOFF, TIMING, retryUntil } from '@shop/common/timing.js';

/** Sentinel failover takes about down-after + 1.3 s (FIELD-NOTES, measured here). */
const FAILOVER_MS = SENTINEL_TIMING.downAfterMs + 1_300;
const routeTimeout = (path: string): number => ROUTES.find((r) => r.path.startsWith(path))!.readTimeoutS * 1000;

describe('timing budgets', () => {
  test('a checkout outlasts the gateway read timeout on purpose: a re-sent checkout joins the same transaction', () => {
    const checkout = ROUTES.find((r) => r.path.startsWith('/checkout/'))!;
    assert.equal(checkout.resendable, true);
    assert.ok(TIMING.checkoutBudgetMs > checkout.readTimeoutS * 1000);
  });

  test('a checkout re-sent to the second replica still outlasts two failovers back to back', () => {
    assert.ok(2 * routeTimeout('/checkout/') > 2 * (FAILOVER_MS + TIMING.confirmBudgetMs / 2));
  });

  test('a checkout every replica timed out on, sent to the last resort, still finds its driver at work', () => {
    // Two tries, then the last resort's try of each of the two replicas (nginx.ts).
    assert.ok(4 * routeTimeout('/checkout/') < TIMING.checkoutBudgetMs);
  });

  test('a paused replica is passed over long enough that one pause costs one timeout', () => {
    assert.ok(TIMING.internalCall.cooldownMs >= 4 * TIMING.internalCall.timeoutMs);
    assert.ok(TIMING.gateway.failTimeoutS >= routeTimeout('/checkout/') / 1000);
  });

  test('a paused participant costs a driver one internal timeout, well inside the gateway timeout', () => {
    assert.ok(TIMING.internalCall.timeoutMs * 2 < routeTimeout('/checkout/'));
  });

  test('subtract and pay answer their own 503 after waiting for holds, before the gateway gives up', () => {
    assert.ok(TIMING.holdWaitMs < routeTimeout('/subtract/'));
    assert.ok(TIMING.holdWaitMs < routeTimeout('/pay/'));
  });

  test('reads, writes and confirmations wait out a failover', () => {
    for (const budget of [TIMING.readBudgetMs, TIMING.idempotentWriteBudgetMs, TIMING.onceWriteBudgetMs, TIMING.confirmBudgetMs]) {
      assert.ok(budget > FAILOVER_MS, `${budget} ms does not outlast a ${FAILOVER_MS} ms failover`);
    }
    // An idempotent write of a checkout step is replayed within the checkout's own budget.
    assert.ok(TIMING.idempotentWriteBudgetMs < TIMING.checkoutBudgetMs);
  });

  test('recovery: a lease outlasts one internal call; a parked transaction is still retried about once a minute', () => {
    assert.ok(TIMING.recovery.leaseMs >= TIMING.internalCall.timeoutMs);
    assert.ok(TIMING.recovery.staleAfterMs < TIMING.checkoutBudgetMs);
    assert.ok(TIMING.recovery.retry.maxMs <= 60_000);
  });

  test('checkout backoff stays within 1.5 x 64 ms, so a waiting checkout notices a released hold quickly', () => {
    for (let attempt = 1; attempt < 20; attempt++) assert.ok(BACKOFF.checkoutStep(attempt) < 96);
  });
});

describe('retryUntil', () => {
  test('retries retryable errors and not-done values, throws other errors at once, and onDeadline past the deadline', async () => {
    let calls = 0;
    const flaky = async () => {
      calls++;
      if (calls < 3) throw new Error('transient');
      return calls;
    };
    assert.equal(await retryUntil(Date.now() + 1_000, flaky, { backoff: () => 1, retryable: () => true }), 3);
    await assert.rejects(
      retryUntil(Date.now() + 1_000, async () => {
        throw new Error('final');
      }, { backoff: () => 1, retryable: () => false }),
      /final/,
    );
    const busy = retryUntil(Date.now() + 30, async () => 'BUSY', { backoff: () => 5, done: (v) => v !== 'BUSY', onDeadline: () => new Error('gave up') });
    await assert.rejects(busy, /gave up/);
  });
});
