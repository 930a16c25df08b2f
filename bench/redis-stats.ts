/** Redis `INFO commandstats` of every group's primary, to see which commands eat the Redis CPU. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Cluster } from '@shop/launcher/cluster.js';

export interface CommandStat {
  calls: number;
  usec: number;
}

export type CommandStats = Record<string, Record<string, CommandStat>>;

export function parseCommandStats(info: string): Record<string, CommandStat> {
  const out: Record<string, CommandStat> = {};
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m !== null) out[m[1]!] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
}

export async function readCommandStats(cluster: Cluster): Promise<CommandStats> {
  const out: CommandStats = {};
  for (const g of Object.keys(cluster.groups)) {
    const p = await cluster.currentPrimary(g);
    const r = new Redis({ host: p.host, port: p.port, password: cluster.password, maxRetriesPerRequest: 2 });
    try {
      out[g] = parseCommandStats(await r.info('commandstats'));
    } finally {
      r.disconnect();
    }
  }
  return out;
}

/**
 * Each group primary's replication offset (`master_repl_offset`): bytes of replication
 * stream it produced, which every replica receives, applies and appends to its AOF.
 */
export async function readReplOffsets(cluster: Cluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const g of Object.keys(cluster.groups)) {
    const p = await cluster.currentPrimary(g);
    const r = new Redis({ host: p.host, port: p.port, password: cluster.password, maxRetriesPerRequest: 2 });
    try {
      out[g] = Number(/master_repl_offset:(\d+)/.exec(await r.info('replication'))?.[1] ?? NaN);
    } finally {
      r.disconnect();
    }
  }
  return out;
}

export function commandStatsDelta(a: CommandStats, b: CommandStats): CommandStats {
  const out: CommandStats = {};
  for (const [g, cmds] of Object.entries(b)) {
    out[g] = {};
    for (const [cmd, s] of Object.entries(cmds)) {
      const before = a[g]?.[cmd] ?? { calls: 0, usec: 0 };
      const d = { calls: s.calls - before.calls, usec: s.usec - before.usec };
      if (d.calls > 0) out[g][cmd] = d;
    }
  }
  return out;
}

/**
 * Rewrites the AOF of every Redis server and waits until all rewrites ended. A bulk load
 * grows each AOF from a near-empty base, so the automatic rewrite (at 100% growth) would
 * otherwise start inside the measured window, on all three servers of a group at once
 * (measured: a 1-2 s dip to ~900 checkouts/s with p99 ~230 ms, 6 s into a window).
 */
export async function compactAofs(cluster: Pick<Cluster, 'groups' | 'password'>, timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  const clients = Object.values(cluster.groups)
    .flat()
    .map((n) => new Redis({ host: n.host, port: n.port, password: cluster.password, maxRetriesPerRequest: 2, lazyConnect: true }));
  const rewriting = async (r: Redis): Promise<boolean> => /aof_rewrite_in_progress:1|aof_rewrite_scheduled:1/.test(await r.info('persistence'));
  const untilIdle = async (r: Redis): Promise<void> => {
    while (await rewriting(r)) {
      if (Date.now() - t0 > timeoutMs) throw new Error('AOF rewrites did not end in time');
      await sleep(100);
    }
  };
  try {
    await Promise.all(clients.map((r) => r.connect()));
    // One at a time: three forks of a group at once are what this avoids inside the window.
    for (const r of clients) {
      await untilIdle(r); // an automatic rewrite already under way
      await r.bgrewriteaof();
      await untilIdle(r);
    }
  } finally {
    for (const r of clients) r.disconnect();
  }
  return Date.now() - t0;
}
