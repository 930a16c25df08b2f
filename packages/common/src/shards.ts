/**
 * Sharded data: a service's entities (orders, items, users) spread over N Redis groups,
 * N fixed at deploy time (REDIS_SHARDS). Each shard is a whole group of its own (a primary,
 * its replicas, its promotable set and replica guard), so every rule about one group
 * (durable writes, failover, fencing) holds per shard unchanged.
 *
 * An entity lives on the shard its id hashes to. The hash is FNV-1a (32 bits): cheap, well
 * spread over short ids such as batch_init's "0" … "n-1", and the same in every process and
 * language. Changing N moves most entities, so N is part of the data's layout: a running
 * system is never re-sharded in place.
 */
import type { Redis } from 'ioredis';
import type { DurableWriter } from './redis.js';

/** One shard of a service's data: its Redis group, the client and the durable writer on it. */
export interface Shard {
  index: number;
  /** The group's Sentinel master name (or the service name on a single Redis). */
  group: string;
  redis: Redis;
  writer: DurableWriter;
}

/**
 * The Sentinel master name of a service's shard. Shard 0 keeps the unsharded name, so a
 * one-shard system (and data and Sentinel state kept from before sharding) is unchanged.
 */
export function shardGroupName(base: string, index: number): string {
  return index === 0 ? base : `${base}-s${index}`;
}

/** The master names of all `count` shards of a service, shard 0 first. */
export function shardGroupNames(base: string, count: number): string[] {
  return Array.from({ length: count }, (_, k) => shardGroupName(base, k));
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Which of `count` shards holds the entity `id`. */
export function shardIndex(id: string, count: number): number {
  if (count === 1) return 0;
  let hash = FNV_OFFSET;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return (hash >>> 0) % count;
}

/** Items of a list grouped by the shard of each one's id; shards with none are left out. */
export function groupByShard<T>(items: Iterable<T>, idOf: (item: T) => string, count: number): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const item of items) {
    const k = shardIndex(idOf(item), count);
    const list = out.get(k);
    if (list === undefined) out.set(k, [item]);
    else list.push(item);
  }
  return out;
}

/** Reads `ids` on their shards (every shard at once) and returns the answers in the ids' order. */
export async function readByShard<T>(ids: readonly string[], count: number, read: (shard: number, ids: string[]) => Promise<T[]>): Promise<T[]> {
  const positions = groupByShard(ids.map((id, at) => ({ id, at })), (x) => x.id, count);
  const out = new Array<T>(ids.length);
  await Promise.all(
    [...positions].map(async ([shard, xs]) => {
      const answers = await read(shard, xs.map((x) => x.id));
      xs.forEach((x, k) => (out[x.at] = answers[k]!));
    }),
  );
  return out;
}
