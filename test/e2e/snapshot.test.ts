/**
 * Consistent snapshots under load (issue 15): a 2-shard HA cluster checks out batch_init
 * orders from 48 clients while snapshots are taken; each snapshot's copies are loaded into
 * scratch redis-servers and asserted exactly: per user, credit + spent on paid orders =
 * credit given; per item, stock + sold = stock given; nothing held, nothing unfinished. One
 * snapshot is taken while a Redis primary is SIGKILLed: it completes consistently or fails
 * with a clear error, and either way checkouts go on.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { ShopClient } from '@shop/launcher/api.js';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { resolveBinaries } from '@shop/launcher/prereqs.js';
import { withScratchServer } from '@shop/launcher/snapshot/check.js';
import { SnapshotError } from '@shop/launcher/snapshot/errors.js';
import { sourceOf } from '@shop/launcher/snapshot/source.js';
import { MANIFEST, sha256, takeSnapshot, type Manifest } from '@shop/launcher/snapshot/take.js';
import { decodeOrder } from '@shop/order/store.js';

const ITEMS = 100;
const USERS = 200;
const ORDERS = 20_000;
const STOCK = 10_000;
const CREDIT = 10_000;

let cluster: Cluster;
let shop: ShopClient;
let root: string;
const redisServer = resolveBinaries({ install: false, log: () => undefined }).redisServer;

before(async () => {
  cluster = await startCluster({ layout: 'ha', replicas: 2, shards: 2 });
  shop = new ShopClient(cluster.gatewayUrl, 64);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-snapshots-'));
  await shop.ok(`/stock/batch_init/${ITEMS}/${STOCK}/1`);
  await shop.ok(`/payment/batch_init/${USERS}/${CREDIT}`);
  await shop.ok(`/orders/batch_init/${ORDERS}/${ITEMS}/${USERS}/1`);
});
after(async () => {
  await shop?.close();
  await cluster?.stop();
  if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
});

/**
 * Runs `fn` while `clients` clients check out random batch_init orders, then stops them:
 * `fn`'s result and the checkout answers by status.
 */
async function underLoad<T>(clients: number, fn: () => Promise<T>): Promise<{ result: T; statuses: Map<number, number> }> {
  let stopped = false;
  const statuses = new Map<number, number>();
  const running = Promise.all(
    Array.from({ length: clients }, async () => {
      while (!stopped) {
        const a = await shop.post(`/orders/checkout/${Math.floor(Math.random() * ORDERS)}`);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      }
    }),
  );
  try {
    return { result: await fn(), statuses };
  } finally {
    stopped = true;
    await running;
  }
}

/** Runs `fn` on every copy of a service in the snapshot, each loaded in a scratch server. */
async function eachCopy(dir: string, manifest: Manifest, service: string, fn: (r: Redis) => Promise<void>): Promise<void> {
  for (const f of manifest.files.filter((x) => x.service === service)) {
    await withScratchServer(fs.readFileSync(path.join(dir, f.file)), redisServer, fn);
  }
}

/** Every broken rule of the snapshot in `dir`, as a line; empty when exact. */
async function violations(dir: string): Promise<string[]> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  const out: string[] = [];
  for (const f of manifest.files) {
    if (sha256(fs.readFileSync(path.join(dir, f.file))) !== f.sha256) out.push(`${f.file}: checksum differs from the manifest`);
  }
  const spent = new Map<string, number>();
  const sold = new Map<string, number>();
  let paid = 0;
  await eachCopy(dir, manifest, 'order', async (r) => {
    if ((await r.zcard('otx:active')) !== 0) out.push('an unfinished transaction in the cut');
    for (let i = 0; i < ORDERS; i += 2000) {
      const p = r.pipeline();
      for (let k = i; k < i + 2000; k++) p.hgetall(`order:${k}`);
      const replies = (await p.exec()) ?? [];
      replies.forEach(([, fields], k) => {
        const o = decodeOrder(String(i + k), fields as Record<string, string>);
        if (o === undefined || !o.order.paid) return;
        paid++;
        spent.set(o.order.user_id, (spent.get(o.order.user_id) ?? 0) + o.order.total_cost);
        for (const [item, qty] of o.order.items) sold.set(item, (sold.get(item) ?? 0) + qty);
      });
    }
  });
  const ledger = async (service: string, prefix: string, count: number, given: number, used: Map<string, number>) => {
    let seen = 0;
    await eachCopy(dir, manifest, service, async (r) => {
      const p = r.pipeline();
      for (let k = 0; k < count; k++) p.hmget(`${prefix}${k}`, 'a', 'h');
      ((await p.exec()) ?? []).forEach(([, v], k) => {
        const [a, h] = v as [string | null, string | null];
        if (a === null) return;
        seen++;
        if (Number(h ?? 0) !== 0) out.push(`${prefix}${k}: ${h} held`);
        if (Number(a) + (used.get(String(k)) ?? 0) !== given) out.push(`${prefix}${k}: ${a} + used ${used.get(String(k)) ?? 0} != ${given}`);
      });
    });
    if (seen !== count) out.push(`${service}: ${seen} of ${count} entities in the snapshot`);
  };
  await ledger('stock', 'item:', ITEMS, STOCK, sold);
  await ledger('payment', 'user:', USERS, CREDIT, spent);
  if (paid !== manifest.orders.paid) out.push(`${paid} paid orders, the manifest says ${manifest.orders.paid}`);
  return out;
}

describe('consistent snapshot under load', { timeout: 10 * 60_000 }, () => {
  test('three snapshots taken during checkouts are each exact; checkouts only waited', async () => {
    const { result: manifests, statuses } = await underLoad(48, async () => {
      const taken: Manifest[] = [];
      for (let n = 0; n < 3; n++) {
        await new Promise((r) => setTimeout(r, 1500));
        taken.push(await takeSnapshot(sourceOf(cluster.topology), path.join(root, `s${n}`), { redisServer }));
      }
      return taken;
    });
    console.log(`snapshots under load: pauses ${manifests.map((m) => m.pauseMs).join(', ')} ms; answers ${JSON.stringify([...statuses])}`);
    assert.deepEqual([...statuses.keys()].filter((s) => s >= 500), [], 'no checkout failed');
    assert.ok((statuses.get(200) ?? 0) > 1000, 'the load ran');
    assert.ok(manifests[2]!.orders.paid > manifests[0]!.orders.paid, 'later snapshots hold more paid orders');
    for (let n = 0; n < 3; n++) {
      assert.equal(manifests[n]!.files.length, 6, 'one file per group');
      assert.deepEqual(await violations(path.join(root, `s${n}`)), [], `snapshot ${n}`);
    }
  });

  test('a snapshot restored into a fresh HA cluster serves exactly the snapshot, and checks out', async () => {
    const dir = path.join(root, 's2');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    const expected = new Map<string, string | null>();
    for (const [service, prefix, count] of [['stock', 'item:', ITEMS], ['payment', 'user:', USERS]] as const) {
      await eachCopy(dir, manifest, service, async (r) => {
        const values = await Promise.all(Array.from({ length: count }, (_, k) => r.hget(`${prefix}${k}`, 'a')));
        values.forEach((v, k) => v !== null && expected.set(`${prefix}${k}`, v));
      });
    }
    const restored = await startCluster({ layout: 'ha', replicas: 1, shards: 2, restore: dir });
    const api = new ShopClient(restored.gatewayUrl, 32);
    try {
      for (let k = 0; k < ITEMS; k++) assert.equal(String(await api.stock(String(k))), expected.get(`item:${k}`), `item ${k}`);
      for (let k = 0; k < USERS; k++) assert.equal(String(await api.credit(String(k))), expected.get(`user:${k}`), `user ${k}`);
      const orders = await Promise.all(Array.from({ length: 400 }, (_, k) => api.order(String(k))));
      assert.equal(orders.filter((o) => o.paid).length > 0, true);
      // A paid order stays paid (200, nothing charged); an unpaid one checks out: the restored
      // groups take writes, so their promotable sets were rebuilt.
      const paid = orders.findIndex((o) => o.paid);
      const unpaid = orders.findIndex((o) => !o.paid);
      const credit = await api.credit(orders[paid]!.user_id);
      assert.equal((await api.post(`/orders/checkout/${paid}`)).status, 200);
      assert.equal(await api.credit(orders[paid]!.user_id), credit);
      assert.equal((await api.post(`/orders/checkout/${unpaid}`)).status, 200);
      assert.equal((await api.order(String(unpaid))).paid, true);
    } finally {
      await api.close();
      await restored.stop();
    }
  });

  test('a snapshot while the active order replica is SIGKILLed mid-checkout waits for recovery and is exact', async () => {
    const dir = path.join(root, 'during-service-kill');
    const { result: manifest, statuses } = await underLoad(32, async () => {
      await new Promise((r) => setTimeout(r, 1000));
      // Its checkouts in flight are left unfinished until another replica's recovery takes them up.
      cluster.process('order-0').signal('SIGKILL');
      return takeSnapshot(sourceOf(cluster.topology), dir, { redisServer });
    });
    console.log(`snapshot during an order replica kill: paused ${manifest.pauseMs} ms (drain ${manifest.drainMs} ms); answers ${JSON.stringify([...statuses])}`);
    assert.deepEqual(await violations(dir), []);
    assert.deepEqual([...statuses.keys()].filter((st) => st >= 500), [], 'no checkout failed');
    await cluster.waitHealthy(60_000);
  });

  test('a snapshot during a primary kill completes exact or fails clearly; checkouts go on either way', async () => {
    const dir = path.join(root, 'during-kill');
    const { result: outcome, statuses } = await underLoad(16, async () => {
      let outcome: string;
      const victim = await cluster.currentPrimary('stock-s1');
      const snapshot = takeSnapshot(sourceOf(cluster.topology), dir, { redisServer });
      await new Promise((r) => setTimeout(r, 5));
      cluster.process(victim.name).signal('SIGKILL');
      try {
        const m = await snapshot;
        outcome = `completed, paused ${m.pauseMs} ms`;
        assert.deepEqual(await violations(dir), []);
      } catch (err) {
        assert.ok(err instanceof SnapshotError, `unclear failure: ${(err as Error).stack}`);
        outcome = `failed: ${err.message}`;
        assert.equal(fs.existsSync(path.join(dir, MANIFEST)), false, 'a failed snapshot leaves no manifest');
        assert.deepEqual(
          fs.readdirSync(root).filter((name) => name.startsWith('during-kill.partial')),
          [],
          'nor a half-written directory',
        );
      }
      await cluster.waitHealthy(60_000);
      // The freeze was lifted: a fresh checkout goes through at once.
      const a = await shop.post(`/orders/checkout/${Math.floor(Math.random() * ORDERS)}`);
      assert.ok(a.status === 200 || a.status === 400, `a checkout after the snapshot answered ${a.status}`);
      return outcome;
    });
    console.log(`snapshot during a primary kill: ${outcome}; answers ${JSON.stringify([...statuses])}`);
  });
});
