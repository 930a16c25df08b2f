/**
 * Redis and Sentinels on Kubernetes: per service group a StatefulSet of servers with
 * persistent volumes, and one StatefulSet of Sentinels watching every group, run by the same
 * entrypoint scripts and configs as docker-compose (mounted from ConfigMaps).
 *
 * No bootstrap Job: as under compose, each server's entrypoint asks the Sentinels for its
 * role (the group's node 0 is primary on a first start) and the services' replica guard
 * makes replicas promotable once they have caught up.
 */
import { groupsOf, redisGroup, type RedisNode, type SentinelNode, type Topology } from '../topology.js';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Container, PodSpec, Probe, Service } from 'kubernetes-types/core/v1.js';
import { CONFIG_HASH_ANNOTATION, configHash, disruptionBudget, POD_DEFAULTS, fieldEnv, labels, meta, podService, POD_NAME_LABEL, restricted, secretEnv, spreadAcrossNodes, type K8sObject, type Labels } from './meta.js';

/** Where the compose file mounts the scripts and configs; the scripts read them there. */
const REDIS_ETC = '/usr/local/etc/redis';
/** The redis user of the official image: its entrypoint then needs no root to own /data. */
const REDIS_UID = 999;

export interface RedisFiles {
  redisConf: string;
  redisEntrypoint: string;
  sentinelConf: string;
  sentinelEntrypoint: string;
}

export const REDIS_CONFIGMAP = 'redis-files';
export const SENTINEL_CONFIGMAP = 'sentinel-files';
export const SENTINEL_SET = 'sentinel';

export function redisSetName(group: string): string {
  return `${group}-redis`;
}

export function configMap(name: string, data: Record<string, string>, l: Labels): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(name, l), data };
}

/** Pods of a StatefulSet are named `<set>-<index>`: that must be the topology's name. */
function checkNames(set: string, nodes: { name: string; index: number }[]): void {
  for (const n of nodes) {
    if (n.name !== `${set}-${n.index}`) throw new Error(`${n.name} cannot be pod ${n.index} of StatefulSet ${set}`);
  }
}

function redisPodSpec(l: Labels, container: Container, configMapName: string): PodSpec {
  return {
    ...POD_DEFAULTS,
    securityContext: { runAsUser: REDIS_UID, runAsGroup: REDIS_UID, fsGroup: REDIS_UID, runAsNonRoot: true },
    affinity: spreadAcrossNodes(l),
    containers: [
      {
        ...container,
        securityContext: restricted(),
        volumeMounts: [
          { name: 'data', mountPath: '/data' },
          { name: 'files', mountPath: REDIS_ETC, readOnly: true },
        ],
      },
    ],
    volumes: [{ name: 'files', configMap: { name: configMapName } }],
  };
}

/** A redis-cli command with the password out of the process list. */
function cli(port: number, command: string): string {
  return `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p ${port} ${command}`;
}

function execProbe(script: string): Probe {
  return { exec: { command: ['sh', '-c', script] }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 };
}

/**
 * A server is ready as a primary, or as a replica whose link to its primary is up (initial
 * sync done). Its Service routes to it either way; readiness is what a rolling update waits
 * for before restarting the next server of the group, and what the disruption budget
 * counts, so neither takes down a second server while the first is still copying the data.
 */
function redisReadiness(port: number): Probe {
  return execProbe(`info=$(${cli(port, 'info replication')}) && { echo "$info" | grep -q '^role:master' || echo "$info" | grep -q '^master_link_status:up'; }`);
}

/**
 * Liveness only asks whether the port answers: a server loading a large AOF answers LOADING
 * to PING for as long as that takes and must not be killed for it.
 */
function portProbe(port: number): Probe {
  return { tcpSocket: { port }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 6 };
}

function statefulSet(name: string, l: Labels, replicas: number, hash: string, pod: PodSpec, storage: string): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(name, l),
    spec: {
      serviceName: name,
      replicas,
      // Roles come from the Sentinels, not from start order: no reason to start one by one.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: { metadata: { labels: { ...l }, annotations: { [CONFIG_HASH_ANNOTATION]: hash } }, spec: pod },
      volumeClaimTemplates: [
        { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } } },
      ],
    },
  };
}

/** The StatefulSet's governing Service: headless, so it gives each pod a DNS name and nothing else. */
function headless(name: string, l: Labels, port: { name: string; port: number }): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, l),
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { 'app.kubernetes.io/name': name }, ports: [port] },
  };
}

export function redisGroupObjects(t: Topology, nodes: RedisNode[], files: RedisFiles): K8sObject[] {
  const first = nodes[0];
  const primary = nodes.find((n) => n.initialPrimary);
  if (first === undefined || primary === undefined) throw new Error('a Redis group without a default primary');
  const name = redisSetName(first.group);
  checkNames(name, nodes);
  const l = labels(name, 'redis');
  const port = first.port;
  const container: Container = {
    name: 'redis',
    image: 'redis:7.0-bookworm',
    command: ['sh', `${REDIS_ETC}/redis-entrypoint.sh`],
    // The compose file's variables; SELF_HOST is this pod's name, which its Service carries.
    env: [
      secretEnv('REDIS_PASSWORD', 'REDIS_PASSWORD'),
      { name: 'REDIS_GROUP', value: first.group },
      fieldEnv('SELF_HOST', 'metadata.name'),
      { name: 'SELF_PORT', value: String(port) },
      { name: 'DEFAULT_PRIMARY', value: `${primary.host}:${primary.port}` },
      { name: 'SENTINELS', value: t.sentinels.map((s) => `${s.host}:${s.port}`).join(' ') },
      // The entrypoint keeps the count with the data and refuses a volume laid out for another.
      { name: 'REDIS_SHARDS', value: String(t.shards) },
    ],
    ports: [{ name: 'redis', containerPort: port }],
    readinessProbe: redisReadiness(port),
    livenessProbe: portProbe(port),
    resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '1536Mi' } },
  };
  const hash = configHash(files.redisConf, files.redisEntrypoint);
  return [
    statefulSet(name, l, nodes.length, hash, redisPodSpec(l, container, REDIS_CONFIGMAP), '2Gi'),
    headless(name, l, { name: 'redis', port }),
    ...nodes.map((n) => podService(n.name, { [POD_NAME_LABEL]: n.name }, l, [{ name: 'redis', port }], true)),
    disruptionBudget(l),
  ];
}

/** `groups`: every Redis group's master name, each of which the Sentinels monitor. */
function sentinelObjects(sentinels: SentinelNode[], files: RedisFiles, groups: string[]): K8sObject[] {
  const first = sentinels[0];
  if (first === undefined) return [];
  checkNames(SENTINEL_SET, sentinels);
  const l = labels(SENTINEL_SET, 'sentinel');
  const port = first.port;
  const container: Container = {
    name: 'sentinel',
    image: 'redis:7.0-bookworm',
    command: ['sh', `${REDIS_ETC}/sentinel-entrypoint.sh`],
    env: [secretEnv('REDIS_PASSWORD', 'REDIS_PASSWORD'), { name: 'MASTER_NAMES', value: groups.join(' ') }, fieldEnv('SELF_HOST', 'metadata.name')],
    ports: [{ name: 'sentinel', containerPort: port }],
    readinessProbe: execProbe(`${cli(port, 'ping')} | grep -q PONG`),
    livenessProbe: portProbe(port),
    resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
  };
  const hash = configHash(files.sentinelConf, files.sentinelEntrypoint);
  return [
    // The volume keeps what each Sentinel learned (current primaries, epochs) across restarts.
    statefulSet(SENTINEL_SET, l, sentinels.length, hash, redisPodSpec(l, container, SENTINEL_CONFIGMAP), '128Mi'),
    headless(SENTINEL_SET, l, { name: 'sentinel', port }),
    ...sentinels.map((s) => podService(s.name, { [POD_NAME_LABEL]: s.name }, l, [{ name: 'sentinel', port }], true)),
    disruptionBudget(l),
  ];
}

export function dataTier(t: Topology, files: RedisFiles): K8sObject[] {
  const shared = { 'app.kubernetes.io/part-of': 'shop' };
  return [
    configMap(REDIS_CONFIGMAP, { 'redis.conf': files.redisConf, 'redis-entrypoint.sh': files.redisEntrypoint }, shared),
    configMap(SENTINEL_CONFIGMAP, { 'sentinel.conf': files.sentinelConf, 'sentinel-entrypoint.sh': files.sentinelEntrypoint }, shared),
    ...groupsOf(t).flatMap((g) => redisGroupObjects(t, redisGroup(t, g), files)),
    ...sentinelObjects(t.sentinels, files, groupsOf(t)),
  ];
}
