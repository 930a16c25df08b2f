/** The CPU tables' rows with shards: every shard group's Redis under its service, its primary found. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ManagedProcess } from '@shop/launcher/supervisor.js';
import { primariesOf, processGroup } from '../run.js';

type Proc = Pick<ManagedProcess, 'name' | 'kind' | 'service' | 'group'>;

/** The Redis servers of a 2-shard HA cluster, as the launcher names them. */
function redisOf2Shards(): Proc[] {
  return (['order', 'stock', 'payment'] as const).flatMap((service) =>
    [service, `${service}-s1`].flatMap((group) =>
      [0, 1, 2].map((i): Proc => ({ name: `${group}-redis-${i}`, kind: 'redis', service, group })),
    ),
  );
}

describe('bench CPU groups with shards', () => {
  it('finds the primary of every shard group, not only shard 0', async () => {
    const procs = redisOf2Shards();
    const groups = Object.fromEntries([...new Set(procs.map((p) => p.group!))].map((g) => [g, []]));
    // After a failover in shard 1 of stock its primary is server 2.
    const primary = (g: string): string => `${g}-redis-${g === 'stock-s1' ? 2 : 0}`;
    const primaries = await primariesOf({ groups, currentPrimary: async (g) => ({ name: primary(g), host: '127.0.0.1', port: 1 }) });
    assert.deepEqual([...primaries].sort(), Object.keys(groups).map(primary).sort());
  });

  it('counts shard k Redis servers under their service, primary or replica', () => {
    const procs = redisOf2Shards();
    const primaries = new Set(['order-redis-0', 'order-s1-redis-0', 'stock-redis-0', 'stock-s1-redis-2', 'payment-redis-0', 'payment-s1-redis-0']);
    const rows = new Map<string, string[]>();
    for (const p of procs) {
      const g = processGroup(p, primaries);
      rows.set(g, [...(rows.get(g) ?? []), p.name]);
    }
    assert.deepEqual(rows.get('stock redis primary'), ['stock-redis-0', 'stock-s1-redis-2']);
    assert.deepEqual(rows.get('stock redis replicas'), ['stock-redis-1', 'stock-redis-2', 'stock-s1-redis-0', 'stock-s1-redis-1']);
    assert.equal(rows.get('order redis primary')?.length, 2);
    assert.equal(rows.get('payment redis replicas')?.length, 4);
    assert.deepEqual([...rows.keys()].sort(), [
      'order redis primary', 'order redis replicas', 'payment redis primary', 'payment redis replicas', 'stock redis primary', 'stock redis replicas',
    ]);
  });

  it('counts services, nginx and Sentinels by kind', () => {
    const none = new Set<string>();
    assert.equal(processGroup({ name: 'stock-1', kind: 'service', service: 'stock' }, none), 'stock service');
    assert.equal(processGroup({ name: 'nginx', kind: 'nginx' }, none), 'nginx');
    assert.equal(processGroup({ name: 'sentinel-0', kind: 'sentinel' }, none), 'sentinels');
  });
});
