/**
 * `npm run chaos:pause -- <process> [--seconds 12] [--clients 16]`: what checkouts see while
 * one process of a fresh HA cluster is paused (SIGSTOP, then SIGCONT).
 *
 * Closed-loop clients check out distinct `batch_init` orders through the gateway; the target
 * is paused 3 s into the load and the load goes on 5 s past its resume. Reported: answers by
 * status, the slowest checkout, and p50/p99 of the checkouts begun during the pause. A
 * measuring tool, not a test: it asserts nothing and exits 0 unless the cluster fails.
 */
import { ShopClient } from '@shop/launcher/api.js';
import { startCluster } from '@shop/launcher/cluster.js';
import { percentile } from './paths.js';

const USAGE = `usage: npm run chaos:pause -- <process name, e.g. order-0, stock-redis-1, sentinel-0> [--seconds N] [--clients N]`;
const WARM_MS = 3_000;
const AFTER_MS = 5_000;
const ORDERS = 100_000;

interface Checkout {
  start: number;
  tookMs: number;
  status: number | 'no answer';
}

function parse(argv: string[]): { target: string; seconds: number; clients: number } {
  const [target, ...rest] = argv;
  if (target === undefined || target.startsWith('-')) throw new Error(USAGE);
  const opts = { target, seconds: 12, clients: 16 };
  for (let i = 0; i < rest.length; i += 2) {
    const value = Number(rest[i + 1]);
    if (!(value > 0)) throw new Error(`${rest[i]} needs a positive number\n${USAGE}`);
    if (rest[i] === '--seconds') opts.seconds = value;
    else if (rest[i] === '--clients') opts.clients = Math.round(value);
    else throw new Error(`unknown option ${rest[i]}\n${USAGE}`);
  }
  return opts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const { target, seconds, clients } = parse(process.argv.slice(2));
  const cluster = await startCluster({ layout: 'ha' });
  const shop = new ShopClient(cluster.gatewayUrl, clients * 2);
  const proc = cluster.process(target);
  try {
    await shop.ok(`/stock/batch_init/1000/1000000/1`);
    await shop.ok(`/payment/batch_init/1000/1000000000`);
    await shop.ok(`/orders/batch_init/${ORDERS}/1000/1000/1`);
    const t0 = Date.now();
    const done: Checkout[] = [];
    let next = 0;
    let end = Number.POSITIVE_INFINITY;
    const load = Promise.all(
      Array.from({ length: clients }, async () => {
        while (Date.now() < end && next < ORDERS) {
          const start = Date.now();
          let status: Checkout['status'];
          try {
            status = (await shop.post(`/orders/checkout/${next++}`)).status;
          } catch {
            status = 'no answer';
          }
          done.push({ start: start - t0, tookMs: Date.now() - start, status });
        }
      }),
    );
    await sleep(WARM_MS);
    const pausedAt = Date.now() - t0;
    proc.signal('SIGSTOP');
    try {
      await sleep(seconds * 1000);
    } finally {
      proc.signal('SIGCONT');
    }
    const resumedAt = Date.now() - t0;
    end = Date.now() + AFTER_MS;
    await load;

    const byStatus: Record<string, number> = {};
    for (const c of done) byStatus[String(c.status)] = (byStatus[String(c.status)] ?? 0) + 1;
    const during = done
      .filter((c) => c.start >= pausedAt && c.start < resumedAt)
      .map((c) => c.tookMs)
      .sort((a, b) => a - b);
    const summary = {
      target,
      pausedMs: resumedAt - pausedAt,
      clients,
      checkouts: done.length,
      byStatus,
      slowestMs: Math.max(...done.map((c) => c.tookMs)),
      duringPause: { checkouts: during.length, p50Ms: percentile(during, 0.5), p99Ms: percentile(during, 0.99) },
    };
    console.log(JSON.stringify(summary));
  } finally {
    proc.signal('SIGCONT');
    await shop.close();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});
