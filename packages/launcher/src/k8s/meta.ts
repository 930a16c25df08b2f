/**
 * The pieces every Kubernetes object of the shop shares: labels, the Secret it reads, the
 * per-pod Services that keep compose's short host names, anti-affinity, disruption budgets.
 */
import { createHash } from 'node:crypto';

export type K8sObject = Record<string, unknown>;
export type Labels = Record<string, string>;
export type Component = 'redis' | 'sentinel' | 'service' | 'gateway';

/** Created by hand (`kubectl create secret`, deploy/k8s/README.md), never generated. */
export const SECRET_NAME = 'shop-secrets';
/** Keys of SECRET_NAME: the same names as the variables, as in deploy/.env. */
export const SECRET_KEYS = ['REDIS_PASSWORD', 'INTERNAL_SECRET'] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/** Selector label of one pod (a StatefulSet member or the pod of a one-replica Deployment). */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const REPLICA_LABEL = 'shop.example/replica';
export const CONFIG_HASH_ANNOTATION = 'shop.example/config-sha256';

/**
 * `app.kubernetes.io/name` groups the pods that must not share a node and share one
 * disruption budget: a Redis group, the Sentinels, the replicas of one service, the gateways.
 */
export function labels(name: string, component: Component): Labels {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': 'shop' };
}

export function meta(name: string, l: Labels): { name: string; labels: Labels } {
  return { name, labels: { ...l } };
}

export function secretEnv(name: string, key: SecretKey): K8sObject {
  return { name, valueFrom: { secretKeyRef: { name: SECRET_NAME, key } } };
}

export function fieldEnv(name: string, fieldPath: string): K8sObject {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** A pod template annotation that changes with its config, so a config change rolls the pods. */
export function configHash(...contents: string[]): string {
  const h = createHash('sha256');
  for (const c of contents) h.update(c).update('\0');
  return h.digest('hex');
}

/** Soft in the base (a one-node dev cluster must schedule); ha.ts makes it required. */
export function spreadAcrossNodes(l: Labels): K8sObject {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': l['app.kubernetes.io/name'] } } } },
      ],
    },
  };
}

/** One voluntary disruption (drain, eviction) at a time per group of interchangeable pods. */
export function disruptionBudget(l: Labels): K8sObject {
  const name = l['app.kubernetes.io/name'] ?? '';
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(name, l),
    spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': name } } },
  };
}

/**
 * A ClusterIP Service named like the compose container, selecting exactly one pod. The
 * generated configs name peers by these short names (`order-redis-0`, `sentinel-1`,
 * `stock-0`): a short name resolves in the pod's namespace only through a Service, and a
 * Service's address outlives its pod, so nginx and Sentinel, which resolve names once,
 * never hold a stale address. `anyState`: route to the pod even when it is not ready;
 * Redis health is Sentinel's to judge, not a probe's.
 */
export function podService(name: string, selector: Labels, l: Labels, ports: { name: string; port: number }[], anyState: boolean): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, l),
    spec: {
      type: 'ClusterIP',
      ...(anyState ? { publishNotReadyAddresses: true } : {}),
      selector,
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port })),
    },
  };
}

/** Least privilege for a container whose image needs no root at run time. */
export const RESTRICTED = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } as const;
