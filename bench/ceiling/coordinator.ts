/**
 * The coordinator of the ceiling skeleton, standing in for the order service (bench/README.md,
 * "(d) ceiling"). POST /checkout/<order> (nginx strips /orders): records the transaction's
 * begin, has the stock participant and then the payment participant take their share, and
 * records the decision; each record is answered only once CEILING_ACKS replicas have it.
 * Order n buys one unit of item n mod 100,000 for user n mod 100,000 at price 1, the shape
 * of the course's batch_init, without reading an order: the skeleton validates nothing.
 */
import { Pool } from 'undici';
import { durableRedis, env, serve } from './shared.js';

const { log, ready } = durableRedis();
/** As the services' internal client: keep-alive pools, one request per connection at a time. */
const pool = (url: string): Pool => new Pool(url, { connections: 16, pipelining: 1, keepAliveTimeout: 30_000 });
const stock = pool(env('CEILING_STOCK_URL'));
const payment = pool(env('CEILING_PAYMENT_URL'));

async function take(participant: Pool, path: string): Promise<boolean> {
  const r = await participant.request({ method: 'POST', path });
  await r.body.dump();
  if (r.statusCode === 200) return true;
  if (r.statusCode === 409) return false;
  throw new Error(`participant answered ${r.statusCode}`);
}

const ROUTE = /^\/checkout\/([0-9]+)$/;
const N = 100_000;

serve(Number(env('CEILING_PORT')), ready, async (method, url) => {
  const m = ROUTE.exec(url);
  if (method !== 'POST' || m === null) return { status: 404, body: 'no such route' };
  const order = m[1]!;
  const n = Number(order);
  // Keyed by the order: a resent checkout rewrites the same records and replays the same
  // steps, which the participants answer from their markers.
  await log.write((p) => void p.set(`ceiling:${order}:begin`, Date.now()));
  // In turn, as ours reserves them: so waits could never form a cycle.
  const ok = (await take(stock, `/take/${order}/item:${n % N}/1`)) && (await take(payment, `/take/${order}/user:${n % N}/1`));
  await log.write((p) => void p.set(`ceiling:${order}:decision`, ok ? 'commit' : 'abort'));
  return ok ? { status: 200, body: 'committed' } : { status: 400, body: 'refused' };
});
