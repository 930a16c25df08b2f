/**
 * The sharded overlays (`<overlay>-sharded`): one of the base's overlays with every
 * service's data over N Redis groups (docs/sharding.md). On top of that overlay they add
 *
 * - the StatefulSet, headless Service, per-pod Services and disruption budget of each extra
 *   group (`stock-s1-redis`, ...), built like the base's groups (same entrypoint, probes,
 *   bootstrap through the Sentinels) and sized by the same overlay;
 * - the Sentinel template that watches every group (deploy/redis/sentinel.sharded.conf),
 *   mounted where the entrypoint reads its template, with MASTER_NAMES naming every group;
 * - REDIS_SHARDS=N on every service Deployment and every Redis server (whose entrypoint
 *   keeps the count with the data and refuses a volume laid out for another count).
 */
import path from 'node:path';
import { sentinelConfFile } from '../compose-spec.js';
import { groupsOf, redisGroup, type Topology } from '../topology.js';
import { redisGroupObjects, redisSetName, SENTINEL_CONFIGMAP, SENTINEL_SET, type RedisFiles } from './data-tier.js';
import { CONFIG_HASH_ANNOTATION, configHash, type K8sObject } from './meta.js';
import { redisGroupPatch, type Overlay, type Patch } from './overlays.js';

/** A ConfigMap patch: null deletes a key. */
export interface DataPatch {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string };
  data: Record<string, string | null>;
}

/** The groups of `sharded` that `one` (the base's one-shard topology) lacks. */
function extraGroups(one: Topology, sharded: Topology): string[] {
  const base = new Set(groupsOf(one));
  return groupsOf(sharded).filter((g) => !base.has(g));
}

/** The extra groups' objects; `files` carries the base's redis.conf and entrypoint, which they share. */
export function shardedResources(one: Topology, sharded: Topology, files: RedisFiles): K8sObject[] {
  return extraGroups(one, sharded).flatMap((g) => redisGroupObjects(sharded, redisGroup(sharded, g), files));
}

const env = (name: string, value: string): { name: string; value: string } => ({ name, value });

/** `sentinelConf`: the template watching every group of `sharded`; `sentinelEntrypoint`: the base's script. */
export function shardedPatches(one: Topology, sharded: Topology, o: Overlay, sentinelConf: string, sentinelEntrypoint: string): (Patch | DataPatch)[] {
  const shards = String(sharded.shards);
  const key = path.basename(sentinelConfFile(sharded.shards));
  return [
    // The base's one-shard template goes; the entrypoint finds this one under its usual name.
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: SENTINEL_CONFIGMAP }, data: { 'sentinel.conf': null, [key]: sentinelConf } },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: SENTINEL_SET },
      spec: {
        template: {
          metadata: { annotations: { [CONFIG_HASH_ANNOTATION]: configHash(sentinelConf, sentinelEntrypoint) } },
          spec: {
            containers: [{ name: 'sentinel', env: [env('MASTER_NAMES', groupsOf(sharded).join(' '))] }],
            volumes: [
              {
                name: 'files',
                configMap: {
                  name: SENTINEL_CONFIGMAP,
                  items: [
                    { key, path: 'sentinel.conf' },
                    { key: 'sentinel-entrypoint.sh', path: 'sentinel-entrypoint.sh' },
                  ],
                },
              },
            ],
          },
        },
      },
    },
    ...groupsOf(one).map((g) => ({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: redisSetName(g) },
      spec: { template: { spec: { containers: [{ name: 'redis', env: [env('REDIS_SHARDS', shards)] }] } } },
    })),
    ...extraGroups(one, sharded).map((g) => redisGroupPatch(o, g)),
    ...one.services.map((r) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: r.name },
      spec: { template: { spec: { containers: [{ name: 'service', env: [env('REDIS_SHARDS', shards)] }] } } },
    })),
  ];
}
