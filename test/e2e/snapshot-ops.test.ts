/**
 * The snapshot command as operations run it (issue 15, "Operations"), against a real 2-shard
 * HA cluster: `npm run snapshot` reaching the shop through its Sentinels alone (no data dir;
 * the password from REDIS_PASSWORD), a wrong shard count refused before anything is taken,
 * and the scheduler with a 1 s period and `--keep 1` taking snapshots until SIGTERM, after
 * which exactly one complete snapshot remains, every checksum valid, and no freeze is left.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { redisCall } from '@shop/common/replication/one-shot.js';
import { shardGroupNames } from '@shop/common/shards.js';
import { ShopClient } from '@shop/launcher/api.js';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { repoRoot } from '@shop/launcher/entry.js';
import { completeSnapshots } from '@shop/launcher/snapshot/retention.js';
import { readSnapshot } from '@shop/launcher/snapshot/restore.js';
import { FROM_SOURCE } from '@shop/launcher/topology.js';
import { FREEZE_KEY } from '@shop/order/keys.js';

const ORDERS = 200;
const PAID = 25;
const MAIN = path.join(repoRoot(), 'packages/launcher/src/snapshot/main.ts');

let cluster: Cluster;
let root: string;
let sentinels: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  cluster = await startCluster({ layout: 'ha', replicas: 1, shards: 2 });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-snapshot-ops-'));
  sentinels = cluster.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  // The password only in the environment, as in a container.
  env = { PATH: process.env.PATH, REDIS_PASSWORD: cluster.password };
  const shop = new ShopClient(cluster.gatewayUrl, 8);
  try {
    await shop.ok('/stock/batch_init/10/1000/1');
    await shop.ok('/payment/batch_init/10/100000');
    await shop.ok(`/orders/batch_init/${ORDERS}/10/10/1`);
    for (let k = 0; k < PAID; k++) assert.equal((await shop.post(`/orders/checkout/${k}`)).status, 200);
  } finally {
    await shop.close();
  }
});
after(async () => {
  await cluster?.stop();
  if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
});

const snapshotArgs = (...args: string[]): string[] => [...FROM_SOURCE, MAIN, ...args];

/** No order shard's primary holds a freeze. */
async function noFreeze(): Promise<void> {
  for (const group of shardGroupNames('order', 2)) {
    const primary = await cluster.currentPrimary(group);
    assert.equal(await redisCall(primary, cluster.password, ['EXISTS', FREEZE_KEY]), 0, `${group} still frozen`);
  }
}

describe('snapshots through the Sentinels, once and on a schedule', { timeout: 120_000 }, () => {
  test('--sentinels --shards 2 takes a complete, exact snapshot with REDIS_PASSWORD from the environment', () => {
    const dir = path.join(root, 'once');
    const r = spawnSync(process.execPath, snapshotArgs(dir, '--sentinels', sentinels, '--shards', '2'), { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^snapshot ${dir}: ok, 6 files, ${ORDERS} orders \\(${PAID} paid\\), ${PAID} checkout transactions; checkouts paused \\d+ ms, took \\d+ ms\\n$`));
    const { manifest, copies } = readSnapshot(dir);
    assert.deepEqual([manifest.layout, manifest.shards], ['ha', 2]);
    assert.deepEqual([...copies.keys()].sort(), ['order', 'order-s1', 'payment', 'payment-s1', 'stock', 'stock-s1']);
    assert.deepEqual(manifest.orders, { total: ORDERS, paid: PAID, transactions: PAID, committed: PAID, aborted: 0 });
  });

  test('a wrong --shards is refused, final, naming the right one; nothing is written', () => {
    const dir = path.join(root, 'wrong-shards');
    const r = spawnSync(process.execPath, snapshotArgs(dir, '--sentinels', sentinels, '--shards', '1'), { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^snapshot \S+: failed \(final\): the Sentinels watch .*, not the groups of --shards 1 \(order, stock, payment\): pass --shards 2\n$/);
    assert.equal(fs.existsSync(dir), false);
  });

  test('--every 1s --keep 1: at least two snapshots, then SIGTERM; exactly the newest remains, complete, and no freeze', async () => {
    const schedule = path.join(root, 'scheduled');
    const child: ChildProcess = spawn(process.execPath, snapshotArgs(schedule, '--sentinels', sentinels, '--shards', '2', '--every', '1s', '--keep', '1'), {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (d: Buffer) => {
        buffered += d.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts);
        if (lines.length >= 2) resolve();
      });
      void exited.then((code) => reject(new Error(`the scheduler exited ${code} after ${lines.length} lines:\n${lines.join('\n')}\n${stderr}`)));
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: stopping/);
    assert.match(stderr, /stopped: \d+ taken, 0 failed/);
    for (const line of lines) assert.match(line, /^snapshot \d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ: ok, 6 files, 200 orders \(25 paid\), 25 checkout transactions; checkouts paused \d+ ms, took \d+ ms; kept 1, removed (none|\S+Z)$/);
    assert.match(lines[1]!, new RegExp(`; kept 1, removed ${/^snapshot (\S+):/.exec(lines[0]!)![1]}$`), 'the second removed the first');
    // Only the newest complete one is left, and nothing half-written beside it.
    const newest = /^snapshot (\S+):/.exec(lines[lines.length - 1]!)![1]!;
    assert.deepEqual(fs.readdirSync(schedule), [newest]);
    assert.deepEqual(completeSnapshots(schedule), [newest]);
    // Restore's checker: manifest, every file's size and checksum.
    assert.equal(readSnapshot(path.join(schedule, newest)).manifest.orders.paid, PAID);
    await noFreeze();
  });
});
