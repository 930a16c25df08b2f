/**
 * The pieces every Kubernetes object of the shop shares: labels, the Secret it reads, the
 * per-pod Services that keep compose's short host names, anti-affinity, disruption budgets.
 */
import { createHash } from 'node:crypto';
import type { Deployment, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Affinity, ConfigMap, EnvVar, SecurityContext, Service } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';

/** What the base is made of, typed by the Kubernetes API so a misspelt field fails to compile. */
export type K8sObject = ConfigMap | Deployment | NetworkPolicy | PodDisruptionBudget | Service | StatefulSet;
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
  return { [GROUP_LABEL]: name, 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': 'shop' };
}

const GROUP_LABEL = 'app.kubernetes.io/name';

/** The selector of the group `l` labels a pod into. */
export function groupOf(l: Labels): Labels {
  const name = l[GROUP_LABEL];
  if (name === undefined) throw new Error(`labels without ${GROUP_LABEL}: ${JSON.stringify(l)}`);
  return { [GROUP_LABEL]: name };
}

export function meta(name: string, l: Labels): ObjectMeta {
  return { name, labels: { ...l } };
}

export function secretEnv(name: string, key: SecretKey): EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: SECRET_NAME, key } } };
}

export function fieldEnv(name: string, fieldPath: string): EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** A pod template annotation that changes with its config, so a config change rolls the pods. */
export function configHash(...contents: string[]): string {
  const h = createHash('sha256');
  for (const c of contents) h.update(c).update('\0');
  return h.digest('hex');
}

/** Soft in the base (a one-node dev cluster must schedule); the ha overlay makes it required. */
export function spreadAcrossNodes(l: Labels): Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: groupOf(l) } } },
      ],
    },
  };
}

/** One voluntary disruption (drain, eviction) at a time per group of interchangeable pods. */
export function disruptionBudget(l: Labels): PodDisruptionBudget {
  const selector = groupOf(l);
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(Object.values(selector).join(''), l),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
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
export function podService(name: string, selector: Labels, l: Labels, ports: { name: string; port: number }[], anyState: boolean): Service {
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

/**
 * Pod settings every shop pod shares. No Service environment variables (Kubernetes would add
 * a dozen per Service to every container, none of them read) and no API token: nothing here
 * talks to the Kubernetes API.
 */
export const POD_DEFAULTS = { enableServiceLinks: false, automountServiceAccountToken: false } as const;

/** Least privilege for a container whose image needs no root at run time. */
export function restricted(): SecurityContext {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
}
