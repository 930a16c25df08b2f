/**
 * Static checks of rendered Kubernetes manifests (the output of `kubectl kustomize`), each a
 * function from the documents to a list of problems: empty when the check passes. Kept
 * apart from the test so that the test can also feed each one a broken render and see it
 * complain.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ENV_VARS, type ServiceName } from '@shop/common/config.js';
import { HEALTH_PATH, READY_PATH } from '../src/k8s/app-tier.js';
import { SECRET_KEYS, SECRET_NAME } from '../src/k8s/meta.js';

type Labels = Record<string, string>;

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
}
export interface Container {
  name: string;
  image?: string;
  command?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number; hostPort?: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: { cpu?: string } };
}
interface Term {
  labelSelector?: { matchLabels?: Labels };
}
export interface PodSpec {
  hostNetwork?: boolean;
  enableServiceLinks?: boolean;
  containers: Container[];
  affinity?: { podAntiAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: Term[]; preferredDuringSchedulingIgnoredDuringExecution?: { podAffinityTerm: Term }[] } };
  volumes?: { name: string; configMap?: { name: string; items?: { key: string; path: string }[] } }[];
}
export interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Labels };
  spec?: {
    replicas?: number;
    template?: { metadata?: { labels?: Labels }; spec: PodSpec };
    type?: string;
    externalIPs?: string[];
    selector?: Labels & { matchLabels?: Labels };
    ports?: { port: number; targetPort?: number | string; nodePort?: number }[];
  };
  data?: Record<string, string>;
}

export interface Workload {
  id: string;
  labels: Labels;
  replicas: number;
  pod: PodSpec;
}

export interface CheckContext {
  root: string;
  /** Whether `service` registers GET `path` on the given listener. */
  serves: (service: ServiceName, surface: 'public' | 'internal', path: string) => boolean;
}

export type Check = (docs: Manifest[], ctx: CheckContext) => string[];

export function workloads(docs: Manifest[]): Workload[] {
  return docs.flatMap((d) => {
    const t = d.spec?.template;
    if ((d.kind !== 'Deployment' && d.kind !== 'StatefulSet') || t === undefined) return [];
    return [{ id: `${d.kind} ${d.metadata.name}`, labels: t.metadata?.labels ?? {}, replicas: d.spec?.replicas ?? 1, pod: t.spec }];
  });
}

const contains = (labels: Labels, selector: Labels | undefined): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

const envValue = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;

/** The hand-written entrypoint script a Redis or Sentinel container runs, from deploy/redis/. */
function entrypointOf(c: Container, root: string): { name: string; text: string } | undefined {
  const script = c.command?.find((a) => a.endsWith('-entrypoint.sh'));
  if (script === undefined) return undefined;
  const file = path.join(root, 'deploy', 'redis', path.basename(script));
  return fs.existsSync(file) ? { name: path.basename(script), text: fs.readFileSync(file, 'utf8') } : undefined;
}

/** The variables a script declares in its `# Env:` header comment. */
export function declaredEnv(script: string): Set<string> {
  const lines = script.split('\n');
  const start = lines.findIndex((l) => l.startsWith('# Env:'));
  const block: string[] = [];
  for (let i = start; start >= 0 && i < lines.length && lines[i]?.startsWith('#') === true; i++) block.push(lines[i] ?? '');
  return new Set(block.join(' ').match(/\b[A-Z][A-Z0-9_]{2,}\b/g) ?? []);
}

/** Service containers: names in ENV_VARS, the required ones there; Redis ones: what their script declares and reads. */
export const envCheck: Check = (docs, ctx) => {
  const problems: string[] = [];
  for (const w of workloads(docs)) {
    // Otherwise Kubernetes adds variables of its own for every Service to every container.
    if (w.pod.enableServiceLinks !== false) problems.push(`${w.id}: Service links on: variables no one declared`);
    for (const c of w.pod.containers) {
      const names = (c.env ?? []).map((e) => e.name);
      const at = `${w.id}/${c.name}`;
      const service = envValue(c, 'SERVICE') as ServiceName | undefined;
      const script = entrypointOf(c, ctx.root);
      if (service !== undefined) {
        for (const n of names) if (!(n in ENV_VARS)) problems.push(`${at}: ${n} is not in ENV_VARS`);
        for (const [n, spec] of Object.entries(ENV_VARS)) if (spec.requiredBy.includes(service) && !names.includes(n)) problems.push(`${at}: lacks required ${n}`);
      } else if (script !== undefined) {
        const declared = declaredEnv(script.text);
        for (const n of names) if (!declared.has(n) || !script.text.includes(`$${n}`)) problems.push(`${at}: ${script.name} does not read ${n}`);
        // The scripts run under `set -u`: a declared variable left out stops the container.
        for (const n of declared) if (!names.includes(n)) problems.push(`${at}: lacks ${n}, which ${script.name} reads`);
      } else if (c.image?.startsWith('nginx:') === true) {
        if (names.length > 0) problems.push(`${at}: nginx reads no environment, got ${names.join(', ')}`);
      } else problems.push(`${at}: neither a service, a Redis entrypoint nor nginx`);
    }
  }
  return problems;
};

function portOf(c: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Ports the gateway's nginx.conf listens on, from the ConfigMap the gateway mounts. */
function nginxListens(docs: Manifest[], pod: PodSpec): Set<number> {
  const maps = new Set((pod.volumes ?? []).flatMap((v) => (v.configMap !== undefined ? [v.configMap.name] : [])));
  const conf = docs.find((d) => d.kind === 'ConfigMap' && maps.has(d.metadata.name))?.data?.['nginx.conf'] ?? '';
  return new Set([...conf.matchAll(/^\s*listen\s+(?:[\w.]+:)?(\d+)/gm)].map((m) => Number(m[1])));
}

/** Services: readiness on /ready, liveness on /health, each a route the service registers on that port. Others: on a port they listen on. */
export const probeCheck: Check = (docs, ctx) => {
  const problems: string[] = [];
  for (const w of workloads(docs)) {
    for (const c of w.pod.containers) {
      const at = `${w.id}/${c.name}`;
      const service = envValue(c, 'SERVICE') as ServiceName | undefined;
      const own = new Set((c.ports ?? []).map((p) => p.containerPort));
      const listens = c.image?.startsWith('nginx:') === true ? nginxListens(docs, w.pod) : own;
      for (const [kind, probe, wanted] of [
        ['readiness', c.readinessProbe, READY_PATH],
        ['liveness', c.livenessProbe, HEALTH_PATH],
      ] as const) {
        if (probe === undefined) {
          problems.push(`${at}: no ${kind} probe`);
          continue;
        }
        if (service !== undefined) {
          const get = probe.httpGet;
          if (get === undefined) {
            problems.push(`${at}: ${kind} probe is not an HTTP GET`);
            continue;
          }
          if (get.path !== wanted) problems.push(`${at}: ${kind} probe on ${get.path}, not ${wanted}`);
          const port = portOf(c, get.port);
          const surface = String(port) === envValue(c, 'INTERNAL_PORT') ? 'internal' : String(port) === envValue(c, 'PUBLIC_PORT') ? 'public' : undefined;
          if (surface === undefined || !own.has(port ?? -1)) problems.push(`${at}: ${kind} probe on port ${String(get.port)}, where the service does not listen`);
          else if (!ctx.serves(service, surface, get.path)) problems.push(`${at}: ${kind} probe on ${get.path}, which the ${surface} listener does not serve`);
          continue;
        }
        const port = probe.tcpSocket !== undefined ? portOf(c, probe.tcpSocket.port) : Number(/-p (\d+)/.exec(probe.exec?.command.join(' ') ?? '')?.[1]);
        if (port === undefined || !listens.has(port) || !own.has(port)) problems.push(`${at}: ${kind} probe on port ${String(port)}, which it does not listen on`);
      }
    }
  }
  return problems;
};

/** Nothing but the gateway reachable from outside the cluster: no other exposed Service, no host networking. */
export const exposureCheck: Check = (docs) => {
  const problems: string[] = [];
  const all = workloads(docs);
  for (const s of docs.filter((d) => d.kind === 'Service')) {
    const spec = s.spec ?? {};
    const exposed = spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.externalIPs ?? []).length > 0 || (spec.ports ?? []).some((p) => p.nodePort !== undefined);
    const targets = all.filter((w) => contains(w.labels, spec.selector));
    const gatewayOnly = targets.length > 0 && targets.every((w) => w.labels['app.kubernetes.io/component'] === 'gateway');
    if (exposed && !gatewayOnly) problems.push(`Service ${s.metadata.name} is exposed outside the cluster (${spec.type ?? 'externalIPs'}) but is not the gateway's`);
  }
  for (const d of docs.filter((x) => x.kind === 'Ingress')) problems.push(`Ingress ${d.metadata.name}: the gateway Service is the only way in`);
  for (const w of all) {
    if (w.pod.hostNetwork === true) problems.push(`${w.id}: hostNetwork`);
    for (const c of w.pod.containers) for (const p of c.ports ?? []) if (p.hostPort !== undefined) problems.push(`${w.id}/${c.name}: hostPort ${p.hostPort}`);
  }
  return problems;
};

/** Every workload is covered by a PodDisruptionBudget and keeps its siblings off its node. */
export const budgetCheck: Check = (docs) => {
  const problems: string[] = [];
  const budgets = docs.filter((d) => d.kind === 'PodDisruptionBudget');
  for (const w of workloads(docs)) {
    if (!budgets.some((b) => contains(w.labels, b.spec?.selector?.matchLabels))) problems.push(`${w.id}: no PodDisruptionBudget selects its pods`);
    const anti = w.pod.affinity?.podAntiAffinity;
    const terms = [...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []), ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => p.podAffinityTerm)];
    if (!terms.some((t) => contains(w.labels, t.labelSelector?.matchLabels))) problems.push(`${w.id}: no pod anti-affinity against its own kind`);
  }
  return problems;
};

/** Secrets come from the operator's Secret by secretKeyRef; none is in the manifests. */
export const secretCheck: Check = (docs) => {
  const problems: string[] = [];
  for (const d of docs.filter((x) => x.kind === 'Secret')) problems.push(`Secret ${d.metadata.name} is part of the manifests`);
  for (const w of workloads(docs)) {
    for (const c of w.pod.containers) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if ((SECRET_KEYS as readonly string[]).includes(e.name) && (ref?.name !== SECRET_NAME || ref.key !== e.name)) {
          problems.push(`${w.id}/${c.name}: ${e.name} is not a secretKeyRef to ${SECRET_NAME}/${e.name}`);
        }
        if (e.value?.includes('${') === true) problems.push(`${w.id}/${c.name}: ${e.name} holds an unresolved reference ${e.value}`);
      }
    }
  }
  return problems;
};

/** Every host:port a config or an environment names: a Service with that port, in front of a pod listening on it. */
export const addressCheck: Check = (docs) => {
  const problems: string[] = [];
  const refs: { from: string; host: string; port: number }[] = [];
  const add = (from: string, host: string | undefined, port: string | undefined): void => {
    refs.push({ from, host: host ?? '', port: Number(port) });
  };
  for (const w of workloads(docs)) {
    for (const c of w.pod.containers) {
      for (const e of c.env ?? []) {
        const from = `${w.id} ${e.name}`;
        if (e.value === undefined) continue;
        if (/_URLS$/.test(e.name)) for (const u of e.value.split(',')) add(from, new URL(u).hostname, new URL(u).port);
        if (['REDIS_SENTINELS', 'SENTINELS', 'DEFAULT_PRIMARY'].includes(e.name)) {
          for (const hp of e.value.split(/[ ,]+/)) add(from, hp.slice(0, hp.lastIndexOf(':')), hp.slice(hp.lastIndexOf(':') + 1));
        }
      }
    }
  }
  for (const m of docs.filter((d) => d.kind === 'ConfigMap')) {
    for (const x of (m.data?.['nginx.conf'] ?? '').matchAll(/^\s*server ([\w.-]+):(\d+)/gm)) add(`ConfigMap ${m.metadata.name}`, x[1], x[2]);
    for (const [key, text] of Object.entries(m.data ?? {})) {
      if (/^sentinel.*\.conf$/.test(key)) for (const x of text.matchAll(/^sentinel monitor \S+ (\S+) (\d+)/gm)) add(`ConfigMap ${m.metadata.name} ${key}`, x[1], x[2]);
    }
  }
  if (refs.length === 0) problems.push('no address found to check');
  const all = workloads(docs);
  for (const r of refs) {
    const svc = docs.find((d) => d.kind === 'Service' && d.metadata.name === r.host);
    const port = svc?.spec?.ports?.find((p) => p.port === r.port);
    if (svc === undefined || port === undefined) {
      problems.push(`${r.from}: ${r.host}:${r.port} is no Service port`);
      continue;
    }
    const target = Number(port.targetPort ?? port.port);
    const listening = (w: Workload): boolean => w.pod.containers.some((c) => (c.ports ?? []).some((p) => p.containerPort === target));
    // A StatefulSet's controller adds the pod-name label: pod <set>-<i> exists when i < replicas.
    const member = /^(.+)-(\d+)$/.exec(svc.spec?.selector?.['statefulset.kubernetes.io/pod-name'] ?? '');
    const isMember = (w: Workload): boolean => member !== null && w.id === `StatefulSet ${member[1]}` && Number(member[2]) < w.replicas;
    if (!all.some((w) => (isMember(w) || contains(w.labels, svc.spec?.selector)) && listening(w))) problems.push(`${r.from}: Service ${r.host} selects no pod listening on ${target}`);
  }
  return problems;
};

/** The ConfigMaps carry deploy/'s generated configs and entrypoints byte for byte, and every mounted one exists. */
export const configCheck: Check = (docs, ctx) => {
  const problems: string[] = [];
  const maps = docs.filter((d) => d.kind === 'ConfigMap');
  for (const m of maps) {
    for (const [key, text] of Object.entries(m.data ?? {})) {
      const file = key === 'nginx.conf' ? path.join(ctx.root, 'deploy', key) : path.join(ctx.root, 'deploy', 'redis', key);
      if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) problems.push(`ConfigMap ${m.metadata.name}: ${key} differs from ${path.relative(ctx.root, file)}`);
    }
  }
  for (const w of workloads(docs)) {
    for (const v of w.pod.volumes ?? []) {
      if (v.configMap === undefined) continue;
      const map = maps.find((m) => m.metadata.name === v.configMap?.name);
      if (map === undefined) problems.push(`${w.id}: mounts missing ConfigMap ${v.configMap.name}`);
      for (const item of v.configMap.items ?? []) if (map?.data?.[item.key] === undefined) problems.push(`${w.id}: mounts key ${item.key} of ConfigMap ${v.configMap.name}, which it lacks`);
    }
  }
  return problems;
};

/** The file a pod sees at `file` of the ConfigMap volume `volume`: the ConfigMap's key of that name, or the one its items map there. */
function mountedFile(docs: Manifest[], pod: PodSpec, volume: string, file: string): string | undefined {
  const v = pod.volumes?.find((x) => x.name === volume)?.configMap;
  if (v === undefined) return undefined;
  const key = v.items === undefined ? file : v.items.find((i) => i.path === file)?.key;
  return key === undefined ? undefined : docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === v.name)?.data?.[key];
}

/** `stock-s1` is shard 1 of `stock`; `stock` its shard 0. */
function shardOf(group: string): { service: string; shard: number } {
  const m = /^(.+)-s(\d+)$/.exec(group);
  return m === null ? { service: group, shard: 0 } : { service: m[1] ?? '', shard: Number(m[2]) };
}

/**
 * Shards: the Sentinels' mounted template monitors exactly the Redis groups that run (each
 * at its default primary) and MASTER_NAMES names the same groups; a service's groups are its
 * shards 0..N-1 with REDIS_SHARDS = N on every replica of it and every server of its groups.
 */
export const shardCheck: Check = (docs) => {
  const problems: string[] = [];
  const all = workloads(docs);
  const servers = new Map<string, { id: string; c: Container }>();
  for (const w of all) {
    for (const c of w.pod.containers) {
      const group = envValue(c, 'REDIS_GROUP');
      if (group !== undefined) servers.set(group, { id: w.id, c });
    }
  }
  const sentinels = all.filter((w) => w.pod.containers.some((c) => envValue(c, 'MASTER_NAMES') !== undefined));
  if (servers.size === 0 || sentinels.length === 0) problems.push('no Redis group or no Sentinel found');
  for (const w of sentinels) {
    const c = w.pod.containers.find((x) => envValue(x, 'MASTER_NAMES') !== undefined);
    const conf = mountedFile(docs, w.pod, 'files', 'sentinel.conf');
    if (c === undefined || conf === undefined) {
      problems.push(`${w.id}: mounts no sentinel.conf`);
      continue;
    }
    const monitored = new Map([...conf.matchAll(/^sentinel monitor (\S+) (\S+) (\d+)/gm)].map((m) => [m[1] ?? '', `${m[2]}:${m[3]}`]));
    const named = (envValue(c, 'MASTER_NAMES') ?? '').split(' ').filter((n) => n !== '');
    const sorted = (xs: Iterable<string>): string => [...xs].sort().join(' ');
    if (sorted(named) !== sorted(monitored.keys())) problems.push(`${w.id}: MASTER_NAMES [${sorted(named)}] but its sentinel.conf monitors [${sorted(monitored.keys())}]`);
    for (const [group, s] of servers) {
      const primary = monitored.get(group);
      if (primary === undefined) problems.push(`${w.id}: group ${group} (${s.id}) is not watched`);
      else if (primary !== envValue(s.c, 'DEFAULT_PRIMARY')) problems.push(`${w.id}: monitors ${group} at ${primary}, its servers start with ${envValue(s.c, 'DEFAULT_PRIMARY') ?? 'none'}`);
    }
    for (const group of monitored.keys()) if (!servers.has(group)) problems.push(`${w.id}: monitors ${group}, which no StatefulSet runs`);
  }
  const shardsOf = new Map<string, number[]>();
  for (const g of servers.keys()) {
    const { service, shard } = shardOf(g);
    shardsOf.set(service, [...(shardsOf.get(service) ?? []), shard].sort((a, b) => a - b));
  }
  for (const [service, shards] of shardsOf) {
    if (shards.some((k, i) => k !== i)) problems.push(`${service}: shard groups ${shards.join(', ')} are not 0..${shards.length - 1}`);
  }
  const counted = (at: string, c: Container, service: string): void => {
    const n = shardsOf.get(service)?.length ?? 0;
    const declared = envValue(c, 'REDIS_SHARDS') ?? '1';
    if (declared !== String(n)) problems.push(`${at}: REDIS_SHARDS=${declared}, but ${service} has ${n} Redis group(s)`);
  };
  for (const w of all) {
    for (const c of w.pod.containers) {
      const service = envValue(c, 'SERVICE');
      if (service !== undefined && envValue(c, 'REDIS_SENTINELS') !== undefined) counted(`${w.id}/${c.name}`, c, envValue(c, 'REDIS_MASTER_NAME') ?? service);
    }
  }
  for (const [group, s] of servers) counted(`${s.id}/${s.c.name}`, s.c, shardOf(group).service);
  return problems;
};

export const CHECKS: Record<string, Check> = {
  env: envCheck,
  probes: probeCheck,
  exposure: exposureCheck,
  budgets: budgetCheck,
  secrets: secretCheck,
  addresses: addressCheck,
  configs: configCheck,
  shards: shardCheck,
};

/** CPU requests of every pod the manifests run, in cores. */
export function requestedCpus(docs: Manifest[]): number {
  const cores = (q: string | undefined): number => (q === undefined ? 0 : q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
  return workloads(docs).reduce((sum, w) => sum + w.replicas * w.pod.containers.reduce((s, c) => s + cores(c.resources?.requests?.cpu), 0), 0);
}
