/**
 * The promotable set: the replicas of a group that Sentinel may promote, kept as a Redis set
 * in the group's own data so that it fails over with it.
 *
 * Sentinel promotes the replica whose replication offset looked largest when it last read
 * it, up to seconds earlier; so a write is safe only once every replica Sentinel may promote
 * has it. Every Redis server starts with `replica-priority 0` (never promoted), and the
 * replica guard keeps one invariant: a server outside this set has priority 0 as every
 * Sentinel sees it. A write therefore counts as done once every member of the set (other
 * than the primary itself) has acknowledged it, whichever other replicas lag or are gone.
 */
import type { Redis } from 'ioredis';

export const PROMOTABLE_KEY = 'replication:promotable';
export const GUARD_LEASE_KEY = 'replication:guard-lease';
/**
 * A counter written after reading what other drivers wrote, so that the confirming WAIT
 * covers the read too (also written by lua/includes/barrier.lua under this name).
 */
export const BARRIER_KEY = 'replication:barrier';

/** A server as replicas announce themselves and Sentinels list them: `host:port`. */
export type NodeId = string;

export const nodeId = (host: string, port: number | string): NodeId => `${host}:${port}`;

export interface RoleOfPrimary {
  isPrimary: boolean;
  /** The primary's replication offset: every write it has run so far is at or below it. */
  offset: number;
  /** Acknowledged offset per connected replica. */
  acked: Map<NodeId, number>;
}

/** Reads a `ROLE` reply: `['master', offset, [[host, port, acked], ...]]`. */
export function parseRole(reply: unknown): RoleOfPrimary {
  if (!Array.isArray(reply) || reply[0] !== 'master') return { isPrimary: false, offset: 0, acked: new Map() };
  const acked = new Map<NodeId, number>();
  for (const entry of (reply[2] ?? []) as unknown[]) {
    if (!Array.isArray(entry)) continue;
    const [host, port, offset] = entry as [string, string, string];
    acked.set(nodeId(host, port), Number(offset));
  }
  return { isPrimary: true, offset: Number(reply[1]), acked };
}

export interface AckVerdict {
  confirmed: boolean;
  /** Replicas whose acknowledgement is needed: the members of the set, and at least one. */
  needed: number;
}

/**
 * Whether writes up to `target` are safe on this primary: at least one replica has them,
 * and so does every member of the promotable set except the primary itself.
 */
export function promotableAcked(role: RoleOfPrimary, members: readonly NodeId[], self: NodeId, target: number): AckVerdict {
  const required = members.filter((m) => m !== self);
  const needed = Math.max(1, required.length);
  if (!role.isPrimary) return { confirmed: false, needed };
  const has = (id: NodeId): boolean => (role.acked.get(id) ?? -1) >= target;
  const anyReplica = [...role.acked.keys()].some(has);
  return { confirmed: anyReplica && required.every(has), needed };
}

/**
 * How the server behind `redis` appears in replica lists: its announced address if it has
 * one (containers), else the address we reached it on.
 */
export async function selfId(redis: Redis): Promise<NodeId> {
  const reply = (await redis.config('GET', 'replica-announce-ip', 'replica-announce-port', 'port')) as string[];
  const conf = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) conf.set(reply[i] ?? '', reply[i + 1] ?? '');
  const host = conf.get('replica-announce-ip') || redis.stream?.remoteAddress || '127.0.0.1';
  const announcedPort = Number(conf.get('replica-announce-port') ?? 0);
  return nodeId(host, announcedPort > 0 ? announcedPort : (conf.get('port') ?? '0'));
}
