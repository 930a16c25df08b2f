/**
 * The three scenarios of issue 5, the ceiling of issue 12 and the hot item of issue 14: what
 * each loads, which wrk script drives it, and what the final state must satisfy.
 */
import { ShopClient, inParallel } from '@shop/launcher/api.js';
import type { Cluster } from '@shop/launcher/cluster.js';
import { readRecords } from './ceiling/skeleton.js';
import type { ScenarioName } from './cli.js';
import { range, type StateReader } from './state.js';
import type { WrkResult } from './wrk.js';

export interface BatchTiming {
  call: string;
  n: number;
  ms: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** What a scenario loaded: the wrk script to run and what verify() needs to know. */
export interface Prepared {
  script: 'random' | 'slice';
  args: (string | number)[];
  timings: BatchTiming[];
  nItems: number;
  nUsers: number;
  nOrders: number;
  stock: number;
  credit: number;
}

export interface Scenario {
  name: ScenarioName;
  label: string;
  title: string;
  /** What the headline throughput counts. */
  headline: 'requests' | 'commits';
  prepare(api: ShopClient, o: { durationS: number; maxRate: number; threads: number }): Promise<Prepared>;
  verify(v: VerifyInput): Promise<Check[]>;
}

export interface VerifyInput {
  reader: StateReader;
  prepared: Prepared;
  wrk: WrkResult;
  /** shop_checkouts_total delta by outcome, from before the run until the system settled; undefined without metrics (--url). */
  outcomes: Record<string, number> | undefined;
  statuses: Record<string, number>;
  /** The cluster the bench started, undefined with --url. */
  cluster: Cluster | undefined;
}

const STRESS_N = 100_000;
const BIG = 1_000_000;

async function timed(api: ShopClient, timings: BatchTiming[], call: string, n: number, path: string): Promise<void> {
  const t0 = performance.now();
  await api.ok(path);
  timings.push({ call, n, ms: performance.now() - t0 });
}

/** Users, items and orders as in the course's stress test, each batch_init timed on its own. */
async function loadCourseShape(api: ShopClient, nOrders: number): Promise<Prepared['timings']> {
  const timings: BatchTiming[] = [];
  await timed(api, timings, 'payment batch_init', STRESS_N, `/payment/batch_init/${STRESS_N}/${BIG}`);
  await timed(api, timings, 'stock batch_init', STRESS_N, `/stock/batch_init/${STRESS_N}/${BIG}/1`);
  await timed(api, timings, 'orders batch_init', nOrders, `/orders/batch_init/${nOrders}/${STRESS_N}/${STRESS_N}/1`);
  return timings;
}

/** A run must never run out of fresh orders: size the range for the rate we might reach. */
function freshOrderCount(durationS: number, maxRate: number): number {
  return Math.max(STRESS_N, Math.ceil((durationS * maxRate) / 10_000) * 10_000);
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const fmt = (n: number): string => n.toLocaleString('en-US');

function sentIds(wrk: WrkResult): string[] {
  return wrk.threads.flatMap((t) => (t.firstId < 0 ? [] : range(t.firstId, t.nextId - t.firstId)));
}

interface Loaded {
  items: { id: string; available: number; held: number | undefined }[];
  users: Map<string, { available: number; held: number | undefined }>;
  orders: { id: string; paid: boolean; userId: string; total: number; lines: [string, number][]; inCheckout: string | undefined }[];
}

/**
 * Through the API a read is a request: there, of the orders only those sent are read (the
 * check that no other order got paid needs them all, so it is left to the Redis reader).
 */
async function load(reader: StateReader, p: Prepared, sent?: string[]): Promise<Loaded> {
  const itemIds = range(0, p.nItems);
  const userIds = range(0, p.nUsers);
  const orderIds = reader.source === 'api' && sent !== undefined ? sent : range(0, p.nOrders);
  const [items, users, orders] = await Promise.all([reader.items(itemIds), reader.users(userIds), reader.orders(orderIds)]);
  const missing = [items, users, orders].map((xs) => xs.filter((x) => x === undefined).length);
  if (sum(missing) > 0) throw new Error(`final state: missing ${missing[0]} items, ${missing[1]} users, ${missing[2]} orders`);
  return {
    items: items.map((e, i) => ({ id: itemIds[i]!, available: e!.available, held: e!.held })),
    users: new Map(users.map((e, i) => [userIds[i]!, { available: e!.available, held: e!.held }])),
    orders: orders.map((o, i) => ({ id: orderIds[i]!, ...o! })),
  };
}

/** Σ stock taken == Σ credit taken == what the paid orders account for; no hold left behind. */
function conservation(s: Loaded, p: Prepared, outcomes: Record<string, number> | undefined, exactCommits = true): Check[] {
  const paid = s.orders.filter((o) => o.paid);
  const stockTaken = sum(s.items.map((e) => p.stock - e.available));
  const creditTaken = sum([...s.users.values()].map((e) => p.credit - e.available));
  const paidQty = sum(paid.map((o) => sum(o.lines.map(([, q]) => q))));
  const paidTotal = sum(paid.map((o) => o.total));
  const committed = outcomes?.committed ?? 0;
  const held = sum(s.items.map((e) => e.held ?? 0)) + sum([...s.users.values()].map((e) => e.held ?? 0));
  const holdsKnown = s.items.every((e) => e.held !== undefined);
  const inCheckout = s.orders.filter((o) => o.inCheckout !== undefined && o.inCheckout !== '').length;
  const checkoutKnown = s.orders.every((o) => o.inCheckout !== undefined);
  return [
    {
      name: 'stock conservation',
      ok: stockTaken === paidQty,
      detail: `stock taken ${fmt(stockTaken)}, quantity of paid orders ${fmt(paidQty)}`,
    },
    {
      name: 'credit conservation',
      ok: creditTaken === paidTotal,
      detail: `credit taken ${fmt(creditTaken)}, total of paid orders ${fmt(paidTotal)}`,
    },
    outcomes === undefined
      ? { name: 'paid orders = committed checkouts', ok: true, detail: `${fmt(paid.length)} orders paid; no metrics to compare with` }
      : exactCommits
      ? {
          name: 'paid orders = committed checkouts',
          ok: paid.length === committed,
          detail: `${fmt(paid.length)} orders paid, order service counted ${fmt(committed)} commits`,
        }
      : {
          // Concurrent checkouts of one order drive the same transaction and each counts a
          // commit: with repeats, the counter may exceed the paid orders, never fall short.
          name: 'paid orders ≤ committed answers',
          ok: paid.length <= committed,
          detail: `${fmt(paid.length)} orders paid, order service counted ${fmt(committed)} commits (${fmt(committed - paid.length)} concurrent duplicates)`,
        },
    {
      name: 'no holds left',
      ok: !holdsKnown || held === 0,
      detail: holdsKnown ? `${fmt(held)} units/credit still held` : 'not visible through the API',
    },
    {
      name: 'no order left in checkout',
      ok: inCheckout === 0,
      detail: checkoutKnown ? `${fmt(inCheckout)} orders still marked as being checked out` : 'not visible through the API',
    },
  ];
}

function noFiveHundreds(statuses: Record<string, number>): Check {
  const five = sum(Object.entries(statuses).filter(([s]) => s.startsWith('5')).map(([, n]) => n));
  return { name: 'no 5xx', ok: five === 0, detail: `${fmt(five)} checkout answers were 5xx` };
}

function notExhausted(wrk: WrkResult, nOrders: number): Check {
  const ex = sum(wrk.threads.map((t) => t.exhausted));
  const sent = sum(wrk.threads.map((t) => t.sent));
  return {
    name: 'fresh orders not exhausted',
    ok: ex === 0,
    detail:
      ex === 0
        ? `${fmt(sent)} of ${fmt(nOrders)} fresh orders used`
        : `RANGE EXHAUSTED: ${ex} requests found no fresh order; raise --max-rate (the run is invalid)`,
  };
}

function paidOnlyIfSent(s: Loaded, wrk: WrkResult, reader: StateReader): Check {
  if (reader.source === 'api') return { name: 'only sent orders paid', ok: true, detail: 'not checked through the API' };
  const sent = new Set(sentIds(wrk));
  const stray = s.orders.filter((o) => o.paid && !sent.has(o.id)).length;
  return { name: 'only sent orders paid', ok: stray === 0, detail: `${fmt(stray)} paid orders were never sent` };
}

/** (b)'s checks, and (e)'s: every sent order is a first checkout and every one commits. */
function freshChecks(
  s: Loaded,
  reader: StateReader,
  prepared: Prepared,
  wrk: WrkResult,
  outcomes: Record<string, number> | undefined,
  statuses: Record<string, number>,
): Check[] {
  const ok2xx = wrk.requests - wrk.errStatus;
  const paid = s.orders.filter((o) => o.paid).length;
  return [
    notExhausted(wrk, prepared.nOrders),
    ...conservation(s, prepared, outcomes),
    paidOnlyIfSent(s, wrk, reader),
    {
      // Every 200 here is a commit; orders in flight when wrk stopped may commit unseen.
      name: "wrk's 200s ≤ paid orders",
      ok: ok2xx <= paid,
      detail: `${fmt(ok2xx)} answered 200 to wrk, ${fmt(paid)} paid`,
    },
    { name: 'no already-paid answers', ok: (outcomes?.already_paid ?? 0) === 0, detail: `${fmt(outcomes?.already_paid ?? 0)} already paid` },
    { name: 'no refusals', ok: wrk.errStatus === 0, detail: `${fmt(wrk.errStatus)} answers >= 400 seen by wrk` },
    noFiveHundreds(statuses),
  ];
}

/** (e)'s hot item: in every order, 2 units of it. */
export const HOT_ITEM = '0';
const HOT_QTY = 2;

/** (e): an order is the hot item and exactly one other item, one unit of it. */
export function hotShapeOk(lines: readonly (readonly [string, number])[]): boolean {
  const hot = lines.filter(([item]) => item === HOT_ITEM);
  const other = lines.filter(([item]) => item !== HOT_ITEM);
  return lines.length === 2 && hot.length === 1 && hot[0]![1] === HOT_QTY && other.length === 1 && other[0]![1] === 1;
}

/**
 * Load before measuring: the services' JIT is cold after start and the first seconds of
 * the first scenario ran at a third of the later rate. The scenarios batch_init their own
 * data afterwards, so what this leaves behind does not matter.
 */
export async function warmUp(api: ShopClient, durationS: number, maxRate: number, threads: number): Promise<Prepared> {
  const nOrders = freshOrderCount(durationS, maxRate);
  const timings = await loadCourseShape(api, nOrders);
  return { script: 'slice', args: [0, nOrders, threads], timings, nItems: STRESS_N, nUsers: STRESS_N, nOrders, stock: BIG, credit: BIG };
}

/**
 * Where the ceiling's measured orders start: its warm-up walks ids from 0, and a measured
 * checkout of an id the warm-up sent would be a cheap replay, not a fresh checkout.
 */
export const CEILING_BASE = 1_000_000_000;

/** Fresh order ids for the skeleton to check out from `base` on: it loads nothing, so nothing to batch_init. */
export function ceilingPrepared(base: number, durationS: number, maxRate: number, threads: number): Prepared {
  const nOrders = freshOrderCount(durationS, maxRate);
  return { script: 'slice', args: [base, nOrders, threads], timings: [], nItems: 0, nUsers: 0, nOrders, stock: 0, credit: 0 };
}

export const SCENARIO_DEFS: Record<ScenarioName, Scenario> = {
  stress: {
    name: 'stress',
    label: 'a',
    title: '(a) course stress shape: checkouts of random orders among 100k',
    headline: 'requests',
    async prepare(api) {
      const timings = await loadCourseShape(api, STRESS_N);
      return { script: 'random', args: [STRESS_N], timings, nItems: STRESS_N, nUsers: STRESS_N, nOrders: STRESS_N, stock: BIG, credit: BIG };
    },
    async verify({ reader, prepared, wrk, outcomes, statuses }) {
      const s = await load(reader, prepared);
      return [
        ...conservation(s, prepared, outcomes, false),
        noFiveHundreds(statuses),
        // The course counts every 4xx as a failure in this shape.
        { name: 'no 4xx', ok: wrk.errStatus === 0, detail: `${fmt(wrk.errStatus)} answers >= 400 seen by wrk` },
      ];
    },
  },

  fresh: {
    name: 'fresh',
    label: 'b',
    title: '(b) fresh orders: every request checks out a never-paid order',
    headline: 'commits',
    async prepare(api, o) {
      const nOrders = freshOrderCount(o.durationS, o.maxRate);
      const timings = await loadCourseShape(api, nOrders);
      return {
        script: 'slice',
        args: [0, nOrders, o.threads],
        timings,
        nItems: STRESS_N,
        nUsers: STRESS_N,
        nOrders,
        stock: BIG,
        credit: BIG,
      };
    },
    async verify({ reader, prepared, wrk, outcomes, statuses }) {
      const s = await load(reader, prepared, sentIds(wrk));
      return freshChecks(s, reader, prepared, wrk, outcomes, statuses);
    },
  },

  contention: {
    name: 'contention',
    label: 'c',
    title: '(c) contention: 10 hot items of stock 500, 1,000 users of credit 6',
    headline: 'commits',
    async prepare(api, o) {
      const nItems = 10;
      const stock = 500;
      const nUsers = 1000;
      // Three orders' worth per user (total 2 each): stock (2,500 orders' worth) runs out
      // first, and users with many orders run out of credit before that.
      const credit = 6;
      const nOrders = freshOrderCount(o.durationS, o.maxRate);
      const timings: BatchTiming[] = [];
      await timed(api, timings, 'payment batch_init', nUsers, `/payment/batch_init/${nUsers}/${credit}`);
      await timed(api, timings, 'stock batch_init', nItems, `/stock/batch_init/${nItems}/${stock}/1`);
      await timed(api, timings, 'orders batch_init', nOrders, `/orders/batch_init/${nOrders}/${nItems}/${nUsers}/1`);
      return { script: 'slice', args: [0, nOrders, o.threads], timings, nItems, nUsers, nOrders, stock, credit };
    },
    async verify({ reader, prepared, wrk, outcomes, statuses }) {
      const s = await load(reader, prepared, sentIds(wrk));
      const stockOf = new Map(s.items.map((e) => [e.id, e.available]));
      const sent = new Set(sentIds(wrk));
      let refused = 0;
      let spurious = 0;
      const examples: string[] = [];
      for (const o of s.orders) {
        if (o.paid || !sent.has(o.id)) continue;
        refused++;
        const need = new Map<string, number>();
        for (const [item, q] of o.lines) need.set(item, (need.get(item) ?? 0) + q);
        const noStock = [...need].some(([item, q]) => (stockOf.get(item) ?? 0) < q);
        const noCredit = (s.users.get(o.userId)?.available ?? 0) < o.total;
        // Stock and credit only go down during the run: if the final state could still pay
        // for it, so could the state at the time it was refused.
        if (!noStock && !noCredit) {
          spurious++;
          if (examples.length < 5) examples.push(o.id);
        }
      }
      const inFlight = sum(wrk.threads.map((t) => t.sent)) - wrk.requests;
      const refusalsCounted = sum(
        Object.entries(outcomes ?? {})
          .filter(([k]) => k !== 'committed' && k !== 'already_paid')
          .map(([, n]) => n),
      );
      return [
        notExhausted(wrk, prepared.nOrders),
        ...conservation(s, prepared, outcomes),
        paidOnlyIfSent(s, wrk, reader),
        {
          name: 'no spurious refusal',
          ok: spurious === 0,
          detail: `${fmt(refused)} sent orders unpaid, ${fmt(spurious)} of them could still be paid${examples.length > 0 ? ` (e.g. ${examples.join(', ')})` : ''}`,
        },
        {
          // A request still unanswered when wrk stopped may never have reached the order
          // service (nginx drops it when the client goes): unpaid without being refused.
          name: 'unpaid sent orders = refusals counted',
          ok: outcomes === undefined || (refused >= refusalsCounted && refused <= refusalsCounted + inFlight),
          detail: `${fmt(refused)} unpaid sent orders, order service counted ${fmt(refusalsCounted)} refusals, ${fmt(inFlight)} requests unanswered at stop`,
        },
        noFiveHundreds(statuses),
      ];
    },
  },

  hot: {
    name: 'hot',
    label: 'e',
    title: '(e) hot item: every order holds the same item (2 units) and one random other item',
    headline: 'commits',
    async prepare(api, o) {
      const nOrders = freshOrderCount(o.durationS, o.maxRate);
      const timings: BatchTiming[] = [];
      // Stock and credit as in (b): the hot item's 1M units outlast 2 per order of any run,
      // so nothing is refused and a reserve never waits for lack of it.
      await timed(api, timings, 'payment batch_init', STRESS_N, `/payment/batch_init/${STRESS_N}/${BIG}`);
      await timed(api, timings, 'stock batch_init', STRESS_N, `/stock/batch_init/${STRESS_N}/${BIG}/1`);
      // One item to pick from: both lines of every order are the hot item, merged into one line of 2.
      await timed(api, timings, 'orders batch_init (hot item x2)', nOrders, `/orders/batch_init/${nOrders}/1/${STRESS_N}/1`);
      const t0 = performance.now();
      const others = range(0, nOrders).map((id) => `/orders/addItem/${id}/${1 + Math.floor(Math.random() * (STRESS_N - 1))}/1`);
      // One call per order: 64 at once, so the order service batches their writes.
      const wide = new ShopClient(api.baseUrl, 64);
      try {
        await inParallel(64, others.map((path) => () => wide.ok(path)));
      } finally {
        await wide.close();
      }
      timings.push({ call: 'orders addItem (one random other item each)', n: nOrders, ms: performance.now() - t0 });
      return { script: 'slice', args: [0, nOrders, o.threads], timings, nItems: STRESS_N, nUsers: STRESS_N, nOrders, stock: BIG, credit: BIG };
    },
    async verify({ reader, prepared, wrk, outcomes, statuses }) {
      const s = await load(reader, prepared, sentIds(wrk));
      const sent = new Set(sentIds(wrk));
      const misshapen = s.orders.filter((o) => sent.has(o.id) && !hotShapeOk(o.lines));
      const hot = s.items.find((e) => e.id === HOT_ITEM);
      const paid = s.orders.filter((o) => o.paid).length;
      return [
        ...freshChecks(s, reader, prepared, wrk, outcomes, statuses),
        {
          name: 'every sent order: the hot item and one other',
          ok: misshapen.length === 0,
          detail: `${fmt(misshapen.length)} of ${fmt(sent.size)} sent orders differ${misshapen.length > 0 ? ` (e.g. ${misshapen[0]!.id}: ${JSON.stringify(misshapen[0]!.lines)})` : ''}`,
        },
        {
          name: 'the hot item went into every paid order',
          ok: hot !== undefined && prepared.stock - hot.available === HOT_QTY * paid,
          detail: `hot item ${HOT_ITEM}: ${fmt(prepared.stock - (hot?.available ?? prepared.stock))} units taken for ${fmt(paid)} paid orders`,
        },
      ];
    },
  },

  ceiling: {
    name: 'ceiling',
    label: 'd',
    title: '(d) ceiling: the bare skeleton of our topology (nginx, coordinator, two participants, WAIT after every write)',
    headline: 'commits',
    prepare(_api, o) {
      return Promise.resolve(ceilingPrepared(CEILING_BASE, o.durationS, o.maxRate, o.threads));
    },
    async verify({ prepared, wrk, cluster }) {
      if (cluster === undefined) return [{ name: 'records', ok: false, detail: 'the ceiling needs the cluster the bench started' }];
      const r = await readRecords(cluster);
      const ok2xx = wrk.requests - wrk.errStatus;
      return [
        notExhausted(wrk, prepared.nOrders),
        { name: "wrk's 200s ≤ commit decisions recorded", ok: ok2xx <= r.commits, detail: `${fmt(ok2xx)} answered 200, ${fmt(r.commits)} commits recorded` },
        {
          // Warm-up and measured checkouts both count: the records are the group's, not the window's.
          name: 'a begin record for every decision',
          ok: r.begins >= r.commits + r.aborts,
          detail: `${fmt(r.begins)} begins, ${fmt(r.commits)} commits, ${fmt(r.aborts)} aborts`,
        },
        {
          name: 'both participants took their share of every commit',
          ok: r.stockTakes >= r.commits && r.paymentTakes >= r.commits,
          detail: `stock ${fmt(r.stockTakes)}, payment ${fmt(r.paymentTakes)} takes recorded for ${fmt(r.commits)} commits`,
        },
        { name: 'no refusals', ok: wrk.errStatus === 0, detail: `${fmt(wrk.errStatus)} answers >= 400 seen by wrk` },
      ];
    },
  },
};
