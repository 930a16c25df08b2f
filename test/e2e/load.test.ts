/**
 * `npm run load` against a real cluster: both locust shapes, headless for a few seconds,
 * end with exit code 0 and locust's own stats showing requests on every route of the shape
 * and no failure; pointed at a surface that refuses everything, the same run fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSystem, type System } from '../support/system.js';
import { locustInstalled, runLoad, type LoadRun } from '../support/locust.js';

const SHORT_RUN = ['--users', '4', '--spawn-rate', '4', '--duration', '8'];
const TIMEOUT_MS = 90_000;

function assertClean(run: LoadRun, routes: string[]): void {
  assert.equal(run.status, 0, run.output);
  const total = run.stats.get('Aggregated');
  assert.ok(total !== undefined && total.requests > 0, `no requests counted:\n${run.output}`);
  assert.equal(total.failures, 0, run.output);
  for (const r of routes) assert.ok((run.stats.get(r)?.requests ?? 0) > 0, `no ${r} in ${[...run.stats.keys()].join(', ')}`);
}

describe('npm run load', { skip: !locustInstalled && 'locust not installed (apt-get install python3-locust)' }, () => {
  let system: System;
  before(async () => {
    system = await startSystem();
  });
  after(async () => system?.stop());

  test('the stress shape loads its orders and checks them out with no failure', async () => {
    const run = await runLoad(['--shape', 'stress', ...SHORT_RUN, '--orders', '1000', '--host', system.cluster.gatewayUrl], TIMEOUT_MS);
    assertClean(run, ['/orders/checkout/[order_id]']);
    // The set-up made the orders the run drew from: the last one exists.
    assert.equal((await system.api.get('/orders/find/999')).status, 200);
  });

  test('the mixed shape sets up its own data and runs every kind of call with no failure', async () => {
    const run = await runLoad(['--shape', 'mixed', ...SHORT_RUN, '--host', system.cluster.gatewayUrl], TIMEOUT_MS);
    assertClean(run, [
      '/payment/create_user',
      '/payment/add_funds/[user_id]/[amount]',
      '/stock/item/create/[price]',
      '/stock/add/[item_id]/[amount]',
      '/orders/create/[user_id]',
      '/orders/addItem/[order_id]/[item_id]/[quantity]',
      '/orders/checkout/[order_id]',
      '/orders/find/[order_id]',
      '/stock/find/[item_id]',
    ]);
  });

  // A service's internal surface refuses every public route (401: the calls carry no secret).
  const refusingUrl = (): string => system.cluster.services.order[0]?.internalUrl ?? '';

  test('a run whose calls are refused exits non-zero and counts the failures', async () => {
    const internal = refusingUrl();
    const run = await runLoad(['--shape', 'mixed', '--users', '2', '--spawn-rate', '2', '--duration', '3', '--host', internal], TIMEOUT_MS);
    assert.notEqual(run.status, 0, run.output);
    assert.ok((run.stats.get('Aggregated')?.failures ?? 0) > 0, run.output);
  });

  test('the stress shape stops before its run when its set-up is refused', async () => {
    const run = await runLoad(['--shape', 'stress', '--users', '2', '--duration', '5', '--orders', '10', '--host', refusingUrl()], TIMEOUT_MS);
    assert.notEqual(run.status, 0, run.output);
    assert.match(run.output, /stress set-up failed: set-up \/payment\/batch_init\/10\/1000000 answered 401/);
    assert.equal(run.stats.get('Aggregated')?.requests ?? 0, 0, 'no checkout was sent');
  });
});
