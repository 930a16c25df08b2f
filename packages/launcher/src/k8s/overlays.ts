/**
 * The kustomize overlays: what a small dev cluster and a 20-CPU HA cluster change in the
 * base. Sizes, volumes, how strictly pods avoid each other's nodes, how many gateways and
 * how the gateway is exposed. Topology (names, counts of Redis servers and service
 * replicas) stays the base's: it is baked into the generated configs.
 */
import type { PersistentVolumeClaim, ResourceRequirements } from 'kubernetes-types/core/v1.js';
import { groupsOf, type Topology } from '../topology.js';
import { redisSetName, SENTINEL_SET } from './data-tier.js';

/**
 * A strategic-merge patch: a partial object, where null deletes a field, so only partly
 * typed by the API.
 */
export interface Patch {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

interface Size {
  cpu: string;
  memory: string;
  cpuLimit: string;
  memoryLimit: string;
}

export interface Overlay {
  name: string;
  /** Why this overlay exists and what it assumes of the cluster. */
  about: string;
  redis: Size;
  sentinel: Size;
  service: Size;
  gateway: Size;
  redisStorage: string;
  sentinelStorage: string;
  gatewayReplicas: number;
  gatewayType: 'ClusterIP' | 'LoadBalancer';
  /** Required (not just preferred) anti-affinity: needs at least 3 schedulable nodes. */
  strictSpread: boolean;
}

export const OVERLAYS: readonly Overlay[] = [
  {
    name: 'dev',
    about: 'A laptop cluster (kind, minikube, k3d): one node is enough, requests stay under 2 CPUs.',
    redis: { cpu: '50m', memory: '64Mi', cpuLimit: '500m', memoryLimit: '1536Mi' },
    sentinel: { cpu: '10m', memory: '16Mi', cpuLimit: '200m', memoryLimit: '64Mi' },
    service: { cpu: '50m', memory: '96Mi', cpuLimit: '500m', memoryLimit: '512Mi' },
    gateway: { cpu: '20m', memory: '16Mi', cpuLimit: '500m', memoryLimit: '128Mi' },
    redisStorage: '1Gi',
    sentinelStorage: '64Mi',
    gatewayReplicas: 1,
    gatewayType: 'ClusterIP',
    strictSpread: false,
  },
  {
    // Requests: 9 Redis x 1 + 3 Sentinels x 0.1 + 6 service pods x 1 + 2 gateways x 1 =
    // 17.3 CPUs, leaving room for the system pods on 20. Every Redis server and every
    // standby gets what its primary or active peer gets: it may be promoted at any time.
    name: 'ha',
    about: 'At least 3 nodes, 20 CPUs in all: every group spread one pod per node, the gateway behind a LoadBalancer.',
    redis: { cpu: '1', memory: '1280Mi', cpuLimit: '2', memoryLimit: '2Gi' },
    sentinel: { cpu: '100m', memory: '32Mi', cpuLimit: '500m', memoryLimit: '128Mi' },
    service: { cpu: '1', memory: '512Mi', cpuLimit: '2', memoryLimit: '1Gi' },
    gateway: { cpu: '1', memory: '128Mi', cpuLimit: '1', memoryLimit: '256Mi' },
    redisStorage: '10Gi',
    sentinelStorage: '128Mi',
    gatewayReplicas: 2,
    gatewayType: 'LoadBalancer',
    strictSpread: true,
  },
];

function resources(s: Size): ResourceRequirements {
  return { requests: { cpu: s.cpu, memory: s.memory }, limits: { cpu: s.cpuLimit, memory: s.memoryLimit } };
}

/** Replaces the base's preferred anti-affinity (null deletes it in a strategic merge). */
function strictAffinity(name: string): Record<string, unknown> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: null,
      requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } } }],
    },
  };
}

function podPatch(o: Overlay, kind: string, name: string, group: string, container: string, size: Size, extra: Record<string, unknown>): Patch {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name },
    spec: {
      ...extra,
      template: { spec: { ...(o.strictSpread ? { affinity: strictAffinity(group) } : {}), containers: [{ name: container, resources: resources(size) }] } },
    },
  };
}

/** The StatefulSet's claim template is a list without a merge key: the patch restates it whole. */
function claims(storage: string): { volumeClaimTemplates: PersistentVolumeClaim[] } {
  return { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } } }] };
}

/** The overlay's size, volume and spread for the StatefulSet of one Redis group. */
export function redisGroupPatch(o: Overlay, group: string): Patch {
  return podPatch(o, 'StatefulSet', redisSetName(group), redisSetName(group), 'redis', o.redis, claims(o.redisStorage));
}

export function overlayPatches(t: Topology, o: Overlay): Patch[] {
  return [
    ...groupsOf(t).map((g) => redisGroupPatch(o, g)),
    ...(t.sentinels.length > 0 ? [podPatch(o, 'StatefulSet', SENTINEL_SET, SENTINEL_SET, 'sentinel', o.sentinel, claims(o.sentinelStorage))] : []),
    ...t.services.map((r) => podPatch(o, 'Deployment', r.name, r.service, 'service', o.service, {})),
    podPatch(o, 'Deployment', t.gateway.name, t.gateway.name, 'nginx', o.gateway, { replicas: o.gatewayReplicas }),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: t.gateway.name }, spec: { type: o.gatewayType } },
  ];
}
