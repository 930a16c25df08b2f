/**
 * Where the shop to snapshot runs, as take.ts reaches it (a SnapshotSource):
 *
 *   - a data dir of `npm start`: its run/launch.json and secrets.json describe the cluster;
 *   - Sentinels and a shard count, the password from the environment: a deployment where the
 *     tool runs beside the Sentinels (docker-compose, Kubernetes) and no data dir exists.
 *
 * Either way each group's primary is the one a Sentinel majority names (agreedPrimary).
 * Under compose the Sentinels announce hostnames (`announce-hostnames yes`), so a primary is
 * a name such as `stock-redis-1`: dialled as given, and compared as given by the failover
 * check (every Sentinel announces the same name for a server).
 */
import type { Address } from '@shop/common/replication/one-shot.js';
import { agreedPrimary, redisCall } from '@shop/common/replication/one-shot.js';
import { shardGroupName, shardGroupNames } from '@shop/common/shards.js';
import { repoRoot } from '../entry.js';
import { readLaunchRecord } from '../launch-record.js';
import { localTopology } from '../local.js';
import { resolveBinaries } from '../prereqs.js';
import { storedSecrets } from '../secrets.js';
import { groupsOf, localRunDir, redisGroup, SERVICES, type Topology } from '../topology.js';
import { SnapshotError } from './errors.js';
import type { SnapshotSource } from './take.js';

/** The running system of a data dir, as the snapshot reaches it. */
export function sourceOf(t: Topology): SnapshotSource {
  const groups = groupsOf(t).map((group) => {
    const first = redisGroup(t, group)[0]!;
    return { group, service: first.service, shard: first.shard };
  });
  return {
    layout: t.layout,
    shards: t.shards,
    groups,
    password: t.password,
    primaryOf: async (group) => (t.layout === 'single' ? redisGroup(t, group)[0]! : majorityPrimary(t.sentinels, t.password, group)),
  };
}

export function topologyOfDataDir(dataDir: string): Topology {
  const record = readLaunchRecord(localRunDir(dataDir));
  if (record === undefined) throw new SnapshotError(`no shop was started on ${dataDir} (no run/launch.json): start it with npm start, or pass --data-dir`);
  const secrets = storedSecrets(dataDir);
  if (secrets === undefined) throw new SnapshotError(`${dataDir} holds no secrets.json: not a data dir of npm start`);
  return localTopology({
    ...record,
    dataDir,
    secrets,
    binaries: resolveBinaries({ install: false, log: () => undefined }),
    serviceEntry: undefined,
    repoRoot: repoRoot(),
  });
}

/** A deployment reached through its Sentinels alone. */
export interface SentinelTarget {
  sentinels: Address[];
  /** Redis groups per service (REDIS_SHARDS of the services). */
  shards: number;
  password: string;
}

/** The groups of `shards` shards per service, named as the services name them (shards.ts). */
export function sentinelSource(t: SentinelTarget): SnapshotSource {
  const groups = SERVICES.flatMap((service) => shardGroupNames(service, t.shards).map((group, shard) => ({ group, service, shard })));
  return { layout: 'ha', shards: t.shards, groups, password: t.password, primaryOf: (group) => majorityPrimary(t.sentinels, t.password, group) };
}

/**
 * sentinelSource, once the Sentinels are seen to watch exactly its groups: a wrong --shards
 * would otherwise leave whole shards out of a snapshot that looks complete.
 */
export async function openSentinelSource(t: SentinelTarget): Promise<SnapshotSource> {
  const source = sentinelSource(t);
  const watched = await watchedGroups(t);
  const expected = source.groups.map((g) => g.group);
  if (watched.length !== expected.length || expected.some((g) => !watched.includes(g))) {
    const shards = shardCountOf(watched);
    const hint = shards !== undefined ? `: pass --shards ${shards}` : ': are these the shop\'s Sentinels?';
    throw new SnapshotError(`the Sentinels watch ${watched.join(', ') || 'no group'}, not the groups of --shards ${t.shards} (${expected.join(', ')})${hint}`);
  }
  return source;
}

/** The master names the first Sentinel to answer watches. */
async function watchedGroups(t: SentinelTarget): Promise<string[]> {
  const answers = await Promise.allSettled(t.sentinels.map((s) => redisCall(s, t.password, ['SENTINEL', 'MASTERS'])));
  const reply = answers.find((a) => a.status === 'fulfilled');
  if (reply === undefined) {
    const why = answers.map((a) => (a.status === 'rejected' ? (a.reason as Error).message : '')).find((m) => m !== '') ?? 'no Sentinel given';
    throw new SnapshotError(`no Sentinel answered (${why}): are they running, is REDIS_PASSWORD theirs?`);
  }
  const masters = Array.isArray(reply.value) ? (reply.value as unknown[]) : [];
  return masters.flatMap((fields) => {
    if (!Array.isArray(fields)) return [];
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'name') return [String(fields[i + 1])];
    return [];
  });
}

/** The shard count whose groups are exactly `watched`, if any. */
function shardCountOf(watched: string[]): number | undefined {
  let n = 0;
  while (watched.includes(shardGroupName(SERVICES[0]!, n))) n++;
  const expected = SERVICES.flatMap((s) => shardGroupNames(s, n));
  return n > 0 && expected.length === watched.length && expected.every((g) => watched.includes(g)) ? n : undefined;
}

async function majorityPrimary(sentinels: readonly Address[], password: string, group: string): Promise<Address> {
  const agreed = await agreedPrimary(sentinels, password, group);
  if (agreed.primary === undefined) throw new SnapshotError(`no Sentinel majority names a primary of ${group} (${agreed.answered} of ${agreed.asked} answered): is the shop running?`);
  return agreed.primary;
}
