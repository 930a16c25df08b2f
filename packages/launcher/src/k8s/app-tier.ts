/**
 * The three services and the nginx gateway on Kubernetes.
 *
 * Each service replica of the topology is a Deployment of one pod behind its own Service,
 * named like its compose container (`order-0`, `order-1`): the generated nginx.conf keeps
 * one active replica per service and the others as `backup` (README, "One active replica
 * per service"), which needs one address per replica, not one load-balanced Service. The
 * replicas of a service share a disruption budget and avoid each other's nodes.
 */
import type { GatewayNode, ServiceReplica, Topology } from '../topology.js';
import { configMap } from './data-tier.js';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Container, EnvVar, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { CONFIG_HASH_ANNOTATION, REPLICA_LABEL, configHash, disruptionBudget, POD_DEFAULTS, fieldEnv, labels, meta, podService, restricted, secretEnv, spreadAcrossNodes, type K8sObject, type Labels } from './meta.js';

/** Routes of the services' internal surface (packages/common/src/http.ts). */
export const READY_PATH = '/ready';
export const HEALTH_PATH = '/health';
export const SERVICE_IMAGE = 'shop-service:latest';
export const GATEWAY_CONFIGMAP = 'gateway-config';
/** The node user of the node image and the nginx user of the nginx image: both exist there. */
const NODE_UID = 1000;
const NGINX_UID = 101;

/** The topology's environment, with secrets from the Secret and the replica id from the pod name. */
export function serviceEnv(t: Topology, r: ServiceReplica): EnvVar[] {
  return Object.entries(r.env).map(([name, value]) => {
    if (value === t.password) return secretEnv(name, 'REDIS_PASSWORD');
    if (value === t.internalSecret) return secretEnv(name, 'INTERNAL_SECRET');
    // Unique per pod, also while a rollout runs the old and the new pod side by side: it
    // names the holder of the replica guard's and recovery's leases.
    if (name === 'REPLICA_ID') return fieldEnv(name, 'metadata.name');
    if (value.includes('${')) throw new Error(`${r.name}: ${name} holds a compose reference: ${value}`);
    return { name, value };
  });
}

function deployment(name: string, l: Labels, selector: Labels, replicas: number, template: PodTemplateSpec): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, l),
    spec: {
      replicas,
      // The new pod is ready before the old one stops: a one-pod replica never has none.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: selector },
      template,
    },
  };
}

function serviceReplica(t: Topology, r: ServiceReplica): K8sObject[] {
  const l = labels(r.service, 'service');
  const own = { ...l, [REPLICA_LABEL]: r.name };
  const internal = { port: r.internalPort };
  const container: Container = {
    name: 'service',
    image: SERVICE_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    env: serviceEnv(t, r),
    ports: [
      { name: 'public', containerPort: r.publicPort },
      { name: 'internal', containerPort: r.internalPort },
    ],
    // Redis unreachable for 15 s takes the pod out of its Service; a Sentinel failover
    // (about 3 s) must not empty both replicas' Services at once.
    readinessProbe: { httpGet: { path: READY_PATH, ...internal }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: HEALTH_PATH, ...internal }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    // Endpoints leave kube-proxy a moment after the pod is marked terminating: keep serving
    // until then, so nginx's next connection is not refused.
    lifecycle: { preStop: { exec: { command: ['sleep', '3'] } } },
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '768Mi' } },
    securityContext: restricted(),
  };
  const template: PodTemplateSpec = {
    metadata: { labels: own },
    spec: {
      ...POD_DEFAULTS,
      securityContext: { runAsUser: NODE_UID, runAsGroup: NODE_UID, runAsNonRoot: true },
      affinity: spreadAcrossNodes(l),
      containers: [container],
    },
  };
  const ports = [
    { name: 'public', port: r.publicPort },
    { name: 'internal', port: r.internalPort },
  ];
  return [deployment(r.name, own, { [REPLICA_LABEL]: r.name }, 1, template), podService(r.name, { [REPLICA_LABEL]: r.name }, own, ports, false)];
}

function gateway(g: GatewayNode, nginxConf: string): K8sObject[] {
  const l = labels(g.name, 'gateway');
  const selector = { 'app.kubernetes.io/name': g.name };
  const container: Container = {
    name: 'nginx',
    image: 'nginx:1.26-bookworm',
    // Not the image's entrypoint: its scripts edit /etc/nginx, which is read-only here.
    command: ['nginx', '-c', g.configFile, '-e', 'stderr'],
    ports: [{ name: 'http', containerPort: g.port }],
    // The gateway answers every path itself or from a service; a probe must not depend on one.
    readinessProbe: { tcpSocket: { port: g.port }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    livenessProbe: { tcpSocket: { port: g.port }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    securityContext: { ...restricted(), readOnlyRootFilesystem: true },
    volumeMounts: [
      { name: 'config', mountPath: g.configFile, subPath: 'nginx.conf', readOnly: true },
      // The config keeps its pid file and temp files in /tmp.
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
  const template: PodTemplateSpec = {
    metadata: { labels: l, annotations: { [CONFIG_HASH_ANNOTATION]: configHash(nginxConf) } },
    spec: {
      ...POD_DEFAULTS,
      securityContext: { runAsUser: NGINX_UID, runAsGroup: NGINX_UID, runAsNonRoot: true },
      affinity: spreadAcrossNodes(l),
      containers: [container],
      volumes: [
        { name: 'config', configMap: { name: GATEWAY_CONFIGMAP } },
        { name: 'tmp', emptyDir: {} },
      ],
    },
  };
  return [
    configMap(GATEWAY_CONFIGMAP, { 'nginx.conf': nginxConf }, { 'app.kubernetes.io/part-of': 'shop' }),
    deployment(g.name, l, selector, 1, template),
    // The one Service meant to be reached from outside: overlays choose how (ClusterIP for a
    // port-forward or an Ingress in dev, LoadBalancer in ha).
    { apiVersion: 'v1', kind: 'Service', metadata: meta(g.name, l), spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: g.port, targetPort: g.port }] } },
    disruptionBudget(l),
  ];
}

export function appTier(t: Topology, nginxConf: string): K8sObject[] {
  const budgets = [...new Set(t.services.map((r) => r.service))].map((s) => disruptionBudget(labels(s, 'service')));
  return [...t.services.flatMap((r) => serviceReplica(t, r)), ...budgets, ...gateway(t.gateway, nginxConf)];
}
