/**
 * NetworkPolicies in place of compose's internal networks: Redis and the Sentinels take
 * connections only from each other and the services; the services only from the gateway
 * (public port) and from each other (internal port: the order service's participant calls).
 * The gateway has none: it is the way in. A cluster whose network plugin ignores
 * NetworkPolicies still exposes nothing, as every Service but the gateway's is ClusterIP.
 */
import type { Topology } from '../topology.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { NetworkPolicy, NetworkPolicyIngressRule } from 'kubernetes-types/networking/v1.js';
import { meta, type Component } from './meta.js';

const COMPONENT = 'app.kubernetes.io/component';

function pods(...components: Component[]): LabelSelector {
  return { matchExpressions: [{ key: COMPONENT, operator: 'In', values: components }] };
}

function policy(name: string, target: Component[], ingress: NetworkPolicyIngressRule[]): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(name, { 'app.kubernetes.io/part-of': 'shop' }),
    spec: { podSelector: pods(...target), policyTypes: ['Ingress'], ingress },
  };
}

export function networkPolicies(t: Topology): NetworkPolicy[] {
  const replica = t.services[0];
  if (replica === undefined) throw new Error('a topology without services');
  return [
    policy('data-tier-ingress', ['redis', 'sentinel'], [{ from: [{ podSelector: pods('redis', 'sentinel', 'service') }] }]),
    policy('service-ingress', ['service'], [
      { from: [{ podSelector: pods('gateway') }], ports: [{ protocol: 'TCP', port: replica.publicPort }] },
      { from: [{ podSelector: pods('service') }], ports: [{ protocol: 'TCP', port: replica.internalPort }] },
    ]),
  ];
}
