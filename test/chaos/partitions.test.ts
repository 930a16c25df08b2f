/**
 * Network partitions on loopback (issue 13, item 2): one HA cluster whose Redis peer,
 * service -> Redis/Sentinel and order -> participant links run through the fault proxy
 * (packages/launcher/src/fault-proxy/). Each case runs a modest checkout load, partitions a
 * link set mid-load for a few seconds (cut, blackholed or delayed), heals it, and then
 * asserts exactly:
 *
 *   - conservation: per user, credit + spent on paid orders = credit given; per item,
 *     stock + sold = stock given;
 *   - every checkout answered 200 is paid, every one refused (4xx) is unpaid;
 *   - no 5xx and no missing answer: in every case a path existed (a promotable replica
 *     after the failover, the other service replica, the other participant replica).
 *
 * Self-contained on purpose: batch_init data (orders of two items of price 1), each order
 * checked out once by the load, the final state read through the gateway.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ShopClient, inParallel } from '@shop/launcher/api.js';
import { callLink, peerLink, serviceLink, startCluster, type Cluster, type LinkMode } from '@shop/launcher/cluster.js';

const ORDERS = 2500;
const ITEMS = 100;
const USERS = 400;
/** Scarce on purpose: about half the checkouts are refused, for stock or for credit. */
const STOCK = 30;
const CREDIT = 10;
const PRICE = 1;
const CLIENTS = 24;
/** Checkouts per second at most, all clients together: the load must outlast the partition. */
const RATE = 200;
const BEFORE_MS = 2_000;
const HOLD_MS = 5_000;
const AFTER_MS = 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  status: number | 'no answer';
  code?: string;
  /** When it was answered, and how long it took, in ms. */
  at: number;
  tookMs: number;
}

interface Run {
  outcomes: Map<string, Outcome>;
  /** When the partition was applied and healed, ms since the load began. */
  partition: [number, number];
}

/**
 * Each order checked out once by `CLIENTS` clients; the partition is applied after BEFORE_MS,
 * held HOLD_MS (after `apply` resolved), and the load goes on AFTER_MS past the heal.
 */
async function loadWithPartition(shop: ShopClient, apply: () => Promise<void>, heal: () => Promise<void>): Promise<Run> {
  const outcomes = new Map<string, Outcome>();
  const t0 = Date.now();
  let end = Number.POSITIVE_INFINITY;
  let next = 0;
  const load = Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end && next < ORDERS) {
        const id = String(next++);
        const due = t0 + (Number(id) * 1000) / RATE;
        if (due > Date.now()) await sleep(due - Date.now());
        const start = Date.now();
        const done = (o: Omit<Outcome, 'at' | 'tookMs'>) => outcomes.set(id, { ...o, at: Date.now() - t0, tookMs: Date.now() - start });
        try {
          const a = await shop.post<{ code?: string }>(`/orders/checkout/${id}`);
          done({ status: a.status, ...(a.body.code !== undefined ? { code: a.body.code } : {}) });
        } catch (err) {
          done({ status: 'no answer', code: (err as Error).message });
        }
      }
    }),
  );
  await sleep(BEFORE_MS);
  const from = Date.now() - t0;
  try {
    await apply();
    await sleep(HOLD_MS);
  } catch (err) {
    // A failed case must not leave its clients checking out the next case's orders.
    end = Date.now();
    await heal();
    await load;
    throw err;
  }
  await heal();
  const to = Date.now() - t0;
  end = Date.now() + AFTER_MS;
  await load;
  return { outcomes, partition: [from, to] };
}

interface FinalState {
  orders: { id: string; paid: boolean; user: string; items: [string, number][]; cost: number }[];
  stock: Map<string, number>;
  credit: Map<string, number>;
}

async function readState(shop: ShopClient): Promise<FinalState> {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i));
  const orders = await inParallel(
    32,
    ids(ORDERS).map((id) => async () => {
      const o = await shop.order(id);
      return { id, paid: o.paid, user: o.user_id, items: o.items, cost: o.total_cost };
    }),
  );
  const stock = new Map(await inParallel(32, ids(ITEMS).map((id) => async () => [id, await shop.stock(id)] as const)));
  const credit = new Map(await inParallel(32, ids(USERS).map((id) => async () => [id, await shop.credit(id)] as const)));
  return { orders, stock, credit };
}

/** Every broken rule, as a line; empty when the state is exact. */
function violations(run: Run, s: FinalState): string[] {
  const out: string[] = [];
  const spent = new Map<string, number>();
  const sold = new Map<string, number>();
  for (const o of s.orders) {
    const answer = run.outcomes.get(o.id);
    if (o.paid) {
      spent.set(o.user, (spent.get(o.user) ?? 0) + o.cost);
      for (const [item, qty] of o.items) sold.set(item, (sold.get(item) ?? 0) + qty);
      if (answer === undefined) out.push(`order ${o.id} paid but never checked out`);
      else if (typeof answer.status === 'number' && answer.status >= 400 && answer.status < 500) {
        out.push(`order ${o.id} refused ${answer.status} ${answer.code ?? ''} but paid`);
      }
    } else if (answer?.status === 200) {
      out.push(`order ${o.id} answered 200 at ${answer.at} ms but unpaid: a lost checkout`);
    }
  }
  for (const [user, credit] of s.credit) {
    const total = credit + (spent.get(user) ?? 0);
    if (total !== CREDIT) out.push(`user ${user}: credit ${credit} + spent ${spent.get(user) ?? 0} = ${total}, given ${CREDIT}`);
  }
  for (const [item, stock] of s.stock) {
    const total = stock + (sold.get(item) ?? 0);
    if (total !== STOCK) out.push(`item ${item}: stock ${stock} + sold ${sold.get(item) ?? 0} = ${total}, given ${STOCK}`);
  }
  return out;
}

describe('network partitions', { timeout: 10 * 60_000 }, () => {
  let cluster: Cluster;
  let shop: ShopClient;

  before(async () => {
    cluster = await startCluster({ layout: 'ha', faultProxy: true });
    shop = new ShopClient(cluster.gatewayUrl, 64);
  });

  after(async () => {
    await shop?.close();
    await cluster?.stop();
  });

  /**
   * Fresh data, the load with `links` set to `mode` mid-load, heal, then the exact checks.
   * Undecided checkouts are finished by recovery after the heal: the state is read until it
   * balances, and the last reading is what the assertions see.
   */
  async function partitionCase(links: string[], mode: LinkMode, during?: () => Promise<void>): Promise<Run> {
    await cluster.links!.heal();
    await cluster.waitHealthy(60_000);
    await shop.ok(`/stock/batch_init/${ITEMS}/${STOCK}/${PRICE}`);
    await shop.ok(`/payment/batch_init/${USERS}/${CREDIT}`);
    await shop.ok(`/orders/batch_init/${ORDERS}/${ITEMS}/${USERS}/${PRICE}`);
    const run = await loadWithPartition(
      shop,
      async () => {
        await cluster.links!.set(links, mode);
        await during?.();
      },
      () => cluster.links!.heal(),
    );
    let broken: string[] = [];
    for (const deadline = Date.now() + 30_000; ; ) {
      broken = violations(run, await readState(shop));
      if (broken.length === 0 || Date.now() > deadline) break;
      await sleep(1_000);
    }
    const answers = [...run.outcomes.values()];
    const count = (pred: (o: Outcome) => boolean) => answers.filter(pred).length;
    const failed = answers.filter((o) => o.status === 'no answer' || o.status >= 500);
    const summary = {
      links: links.length === 1 ? links[0] : `${links.length} links`,
      mode: mode.kind,
      checkouts: answers.length,
      ok: count((o) => o.status === 200),
      refused: count((o) => typeof o.status === 'number' && o.status >= 400 && o.status < 500),
      failed: failed.length,
      slowestMs: Math.max(...answers.map((o) => o.tookMs)),
      over1s: count((o) => o.tookMs > 1_000),
      partitionMs: run.partition,
    };
    console.log(`partition case: ${JSON.stringify(summary)}`);
    assert.deepEqual(broken, [], 'conservation and answers');
    assert.deepEqual(
      failed.map((o) => `${o.status} ${o.code ?? ''} at ${o.at} ms`),
      [],
      'no 5xx and no missing answer while a path existed',
    );
    assert.ok(summary.ok > 100 && summary.refused > 100, `both outcomes exercised: ${JSON.stringify(summary)}`);
    assert.ok(answers.some((o) => o.at > run.partition[1]), 'the load outlasted the partition');
    return run;
  }

  const splitBrains = [
    ['payment', { kind: 'cut' }],
    ['payment', { kind: 'blackhole' }],
    ['order', { kind: 'cut' }],
    ['stock', { kind: 'blackhole' }],
  ] as const;
  for (const [group, mode] of splitBrains) {
    test(`split brain (${mode.kind}): the ${group} primary loses its replicas and Sentinels but not the services`, async () => {
      const before = await cluster.currentPrimary(group);
      await partitionCase([peerLink(before.name)], mode, async () => {
        // The partition must have made the Sentinels fail over, or the case tested nothing.
        const deadline = Date.now() + HOLD_MS - 500;
        while ((await cluster.currentPrimary(group)).name === before.name) {
          assert.ok(Date.now() < deadline, 'no failover during the partition');
          await sleep(100);
        }
      });
      assert.notEqual((await cluster.currentPrimary(group)).name, before.name);
    });
  }

  test('slow links (delay 200 ms): the order primary to its replicas and Sentinels, and the coordinator to stock', async () => {
    const primary = await cluster.currentPrimary('order');
    await partitionCase([peerLink(primary.name), callLink('order-0', 'stock-0')], { kind: 'delay', ms: 200 });
  });

  test('the active order replica cut from its Redis servers and Sentinels', async () => {
    const redis = cluster.redis.order.map((n) => serviceLink('order-0', n.name));
    const sentinels = cluster.sentinels.map((s) => serviceLink('order-0', s.name));
    await partitionCase([...redis, ...sentinels], { kind: 'cut' });
  });

  test('the coordinator cut from the active stock replica mid-checkout', async () => {
    await partitionCase([callLink('order-0', 'stock-0')], { kind: 'cut' });
  });

  test('the coordinator blackholed from the active payment replica mid-checkout', async () => {
    await partitionCase([callLink('order-0', 'payment-0')], { kind: 'blackhole' });
  });
});
