/** Redis `INFO commandstats` of every group's primary, to see which commands eat the Redis CPU. */
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
