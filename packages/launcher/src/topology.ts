/**
 * The cluster as data: every process (Redis servers, Sentinels, service replicas, nginx) with
 * its name, ports, files, command line and environment.
 *
 * This is a pure function of its options so that one description feeds everything that must
 * agree with everything else: the Redis/Sentinel configs, the nginx config, the services'
 * environment, the local supervisor and the docker-compose file. Nothing here touches the
 * disk or the network.
 *
 * Port plan of the local target, relative to `basePort` (B), chosen so that all ports of one
 * cluster sit in one block of 250 and two clusters with bases 250 apart never collide:
 *   B+0  .. B+8     Redis servers of shard 0 (service s = order|stock|payment, node i: B + 3s + i)
 *   B+20 .. B+22    Sentinels
 *   B+50            the test harness's gateway (ports.ts), so no shard takes it
 *   B+51 .. B+95    Redis servers of shards 1..5 (shard k: B + 51 + 9(k-1) + 3s + i)
 *   B+100+50s+r     public port of replica r of service s
 *   B+125+50s+r     internal port of replica r of service s
 *   the gaps        the fault proxy's control port and links, when asked for (fault-proxy/links.ts),
 *                   and after them the public/internal offsets of replicas not configured
 * Shard 0 keeps the offsets it had before sharding, so a one-shard cluster is unchanged.
 */
import path from 'node:path';
import type { ServiceName } from '@shop/common/config.js';
import { shardGroupName } from '@shop/common/shards.js';
import { callLink, peerLink, proxyPortOffsets, serviceLink } from './fault-proxy/links.js';
import type { Endpoint, FaultProxyConfig, LinkSpec } from './fault-proxy/proxy.js';

export const SERVICES: readonly ServiceName[] = ['order', 'stock', 'payment'];
export type Layout = 'ha' | 'single';

/**
 * Node's arguments to run a package's TypeScript: tsx, and the `source` export condition so
 * that `@shop/*` imports resolve to the packages' `src/` (their built `dist/` otherwise).
 */
export const FROM_SOURCE: readonly string[] = ['--import', 'tsx', '--conditions=source'];

/**
 * Node flags of every service process (deploy/Dockerfile sets the same). A 32 MB young
 * generation (Node 20's default is 16 MB) halves the scavenges of a busy service: in bench (b)
 * the order service's GC pauses fell from 1.1-1.2 s to 0.9 s per 20 s and throughput rose
 * (docs/measurements.md, "Garbage collection").
 */
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=32';

/** A service's entry in the packages directory `dir`: built (`dist/src/main.js`) or source (`src/main.ts`). */
export function serviceMain(dir: string, service: ServiceName, ext: 'js' | 'ts'): string {
  return ext === 'ts' ? path.join(dir, service, 'src', 'main.ts') : path.join(dir, service, 'dist', 'src', 'main.js');
}
/** 'local': processes on 127.0.0.1 started by our supervisor; 'docker': containers on a compose network. */
export type Target = 'local' | 'docker';
export type ProcessKind = 'proxy' | 'redis' | 'sentinel' | 'service' | 'nginx';

export const MAX_REPLICAS = 25;
export const PORT_BLOCK = 250;
/** Shards per service: shard 0 plus the five that fit B+51..B+95 (see the port plan above). */
export const MAX_SHARDS = 6;

/** Sentinel timings: shipped defaults (30 s) are far too slow, see FIELD-NOTES. */
export const SENTINEL_TIMING = {
  quorum: 2,
  downAfterMs: 1000,
  failoverTimeoutMs: 3000,
  parallelSyncs: 1,
} as const;

export interface Binaries {
  redisServer: string;
  redisSentinel: string;
  nginx: string;
  node: string;
}

export interface TopologyOptions {
  layout: Layout;
  target: Target;
  /** Service replicas per service. */
  replicas: number;
  /**
   * Redis groups per service, each its own Sentinel-monitored primary + replicas; the
   * services route keys to them (REDIS_SHARDS). Default 1; 'single' allows only 1.
   */
  shards?: number;
  gatewayHost: string;
  gatewayPort: number;
  basePort: number;
  /** Absolute path (local) or the path inside each container (docker). */
  dataDir: string;
  password: string;
  internalSecret: string;
  /** Directory holding the service packages: `<service>/dist/src/main.js` (or `<service>/src/main.ts`, run through tsx). */
  serviceEntryDir: string;
  serviceEntryExt: 'js' | 'ts';
  /** Working directory of the service processes (the repository root, so `tsx` resolves). */
  serviceCwd: string;
  binaries: Binaries;
  /** nginx needs `user root;` when its master runs as root, or its workers drop to nobody. */
  runAsRoot: boolean;
  /** Extra environment per service (LOG_LEVEL, SHOP_CRASH_POINT, test knobs). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /**
   * Route Redis replication, Sentinel, service -> Redis and order -> participant traffic
   * through a fault proxy (fault-proxy/links.ts), for partition tests. Local HA only.
   */
  faultProxy?: boolean;
}

export interface Spawn {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
}

interface Base {
  name: string;
  /** Address other processes use to reach this one. */
  host: string;
  logFile: string;
  spawn: Spawn;
}

export interface RedisNode extends Base {
  kind: 'redis';
  /** The Sentinels' master name of its group (shardGroup): `stock`, `stock-s1`. */
  group: string;
  service: ServiceName;
  shard: number;
  index: number;
  port: number;
  /**
   * The port replicas and Sentinels know this server by (`replica-announce-port`): its own,
   * or its peer link's when a fault proxy stands in between. Node ids (promotable.ts) use it.
   */
  announcePort: number;
  dir: string;
  configFile: string;
  /** Role at a fresh start; after a failover the Sentinels' view wins (see roles.ts). */
  initialPrimary: boolean;
}

export interface SentinelNode extends Base {
  kind: 'sentinel';
  index: number;
  port: number;
  dir: string;
  configFile: string;
}

export interface ServiceReplica extends Base {
  kind: 'service';
  service: ServiceName;
  index: number;
  publicPort: number;
  internalPort: number;
  publicUrl: string;
  internalUrl: string;
  env: Record<string, string>;
}

export interface GatewayNode extends Base {
  kind: 'nginx';
  /** Address nginx listens on. */
  port: number;
  url: string;
  /** nginx prefix (-p): pid, temp dirs and config live here. */
  prefix: string;
  configFile: string;
  errorLog: string;
  pidFile: string;
}

export interface FaultProxyNode extends Base {
  kind: 'proxy';
  control: Endpoint;
  controlUrl: string;
  links: LinkSpec[];
  /** The proxy's config (FaultProxyConfig), written by files.ts. */
  configFile: string;
}

export type ProcessNode = FaultProxyNode | RedisNode | SentinelNode | ServiceReplica | GatewayNode;

export interface Topology {
  layout: Layout;
  target: Target;
  dataDir: string;
  runDir: string;
  logDir: string;
  password: string;
  internalSecret: string;
  runAsRoot: boolean;
  /** Redis groups per service. */
  shards: number;
  redis: RedisNode[];
  sentinels: SentinelNode[];
  services: ServiceReplica[];
  gateway: GatewayNode;
  faultProxy?: FaultProxyNode;
}

export const DEFAULT_OPTIONS = {
  layout: 'ha',
  target: 'local',
  replicas: 2,
  gatewayHost: '127.0.0.1',
  gatewayPort: 8000,
  basePort: 17000,
  dataDir: './data',
} as const;

const REDIS_NODES: Record<Layout, number> = { ha: 3, single: 1 };
const SENTINELS: Record<Layout, number> = { ha: 3, single: 0 };

/** Fixed in-container ports: each container has its own network namespace. */
const DOCKER_PORTS = { redis: 6379, sentinel: 26379, public: 8080, internal: 8081 } as const;

export class TopologyError extends Error {
  override name = 'TopologyError';
}

function serviceIndex(s: ServiceName): number {
  return SERVICES.indexOf(s);
}

/** Offset of shard k's first Redis server: shard 0 where it always was, the others past the harness's gateway. */
function shardOffset(shard: number): number {
  return shard === 0 ? 0 : 51 + 9 * (shard - 1);
}

export function redisPort(basePort: number, service: ServiceName, index: number, shard = 0): number {
  return basePort + shardOffset(shard) + 3 * serviceIndex(service) + index;
}

export function sentinelPort(basePort: number, index: number): number {
  return basePort + 20 + index;
}
export function publicPort(basePort: number, s: ServiceName, replica: number): number {
  return basePort + 100 + 50 * serviceIndex(s) + replica;
}
export function internalPort(basePort: number, s: ServiceName, replica: number): number {
  return basePort + 125 + 50 * serviceIndex(s) + replica;
}

function validate(o: TopologyOptions): void {
  if (!Number.isInteger(o.replicas) || o.replicas < 1 || o.replicas > MAX_REPLICAS) {
    throw new TopologyError(`replicas must be an integer in 1..${MAX_REPLICAS}, got ${o.replicas}`);
  }
  const shards = o.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new TopologyError(`shards must be an integer in 1..${MAX_SHARDS}, got ${shards}`);
  }
  if (shards > 1 && o.layout !== 'ha') {
    throw new TopologyError(`the single layout has one Redis per service and no Sentinels to name shards: --shards ${shards} needs --layout ha`);
  }
  if (o.faultProxy === true && (o.target !== 'local' || o.layout !== 'ha')) {
    throw new TopologyError('the fault proxy runs only in a local HA topology');
  }
  if (o.target === 'docker') return;
  if (!Number.isInteger(o.basePort) || o.basePort < 1024 || o.basePort + PORT_BLOCK > 65535) {
    throw new TopologyError(`base port must be in 1024..${65535 - PORT_BLOCK}, got ${o.basePort}`);
  }
  if (!Number.isInteger(o.gatewayPort) || o.gatewayPort < 1 || o.gatewayPort > 65535) {
    throw new TopologyError(`gateway port must be a TCP port, got ${o.gatewayPort}`);
  }
  if (o.gatewayPort >= o.basePort && o.gatewayPort < o.basePort + PORT_BLOCK) {
    const used = new Set(allPortsOf(o));
    if (used.has(o.gatewayPort)) {
      throw new TopologyError(`gateway port ${o.gatewayPort} collides with an internal port of base ${o.basePort}`);
    }
  }
  if (!path.isAbsolute(o.dataDir)) throw new TopologyError(`data dir must be absolute, got ${o.dataDir}`);
}

/** The internal ports a local topology with these options listens on (gateway excluded). */
function allPortsOf(o: Pick<TopologyOptions, 'layout' | 'replicas' | 'basePort' | 'shards'>): number[] {
  const ports: number[] = [];
  for (const g of SERVICES) {
    for (let k = 0; k < (o.shards ?? 1); k++) for (let i = 0; i < REDIS_NODES[o.layout]; i++) ports.push(redisPort(o.basePort, g, i, k));
    for (let r = 0; r < o.replicas; r++) {
      ports.push(publicPort(o.basePort, g, r), internalPort(o.basePort, g, r));
    }
  }
  for (let i = 0; i < SENTINELS[o.layout]; i++) ports.push(sentinelPort(o.basePort, i));
  return ports;
}

/** Where a local cluster keeps its runtime files (nginx prefix, child pids). */
export function localRunDir(dataDir: string): string {
  return path.join(dataDir, 'run');
}

export function buildTopology(o: TopologyOptions): Topology {
  validate(o);
  const docker = o.target === 'docker';
  const dataDir = o.dataDir;
  const runDir = docker ? '/tmp' : localRunDir(dataDir);
  const logDir = docker ? '/tmp' : path.join(dataDir, 'logs');
  const local = (name: string): string => (docker ? name : '127.0.0.1');
  const logFile = (name: string): string => path.join(logDir, `${name}.log`);

  const shards = o.shards ?? 1;
  const redis: RedisNode[] = [];
  // Shard-major, so that shard 0's servers come first in the order they always had.
  for (let shard = 0; shard < shards; shard++) {
    for (const service of SERVICES) {
      const group = shardGroupName(service, shard);
      for (let index = 0; index < REDIS_NODES[o.layout]; index++) {
        const name = `${group}-redis-${index}`;
        const dir = docker ? '/data' : path.join(dataDir, 'redis', name);
        const configFile = docker ? '/usr/local/etc/redis/redis.conf' : path.join(dir, 'redis.conf');
        const port = docker ? DOCKER_PORTS.redis : redisPort(o.basePort, service, index, shard);
        redis.push({
          kind: 'redis',
          name,
          group,
          service,
          shard,
          index,
          host: local(name),
          port,
          announcePort: port,
          dir,
          configFile,
          initialPrimary: index === 0,
          logFile: logFile(name),
          spawn: { command: o.binaries.redisServer, args: [configFile] },
        });
      }
    }
  }

  const sentinels: SentinelNode[] = [];
  for (let index = 0; index < SENTINELS[o.layout]; index++) {
    const name = `sentinel-${index}`;
    const dir = docker ? '/data' : path.join(dataDir, 'sentinel', name);
    // Sentinel rewrites its own config to persist what it learned (current primary, epochs),
    // so the file lives with the data, not in the run dir.
    const configFile = path.join(dir, 'sentinel.conf');
    sentinels.push({
      kind: 'sentinel',
      name,
      index,
      host: local(name),
      port: docker ? DOCKER_PORTS.sentinel : sentinelPort(o.basePort, index),
      dir,
      configFile,
      logFile: logFile(name),
      spawn: { command: o.binaries.redisSentinel, args: [configFile] },
    });
  }

  const services: ServiceReplica[] = [];
  for (const service of SERVICES) {
    for (let index = 0; index < o.replicas; index++) {
      const name = `${service}-${index}`;
      const host = local(name);
      const pub = docker ? DOCKER_PORTS.public : publicPort(o.basePort, service, index);
      const internal = docker ? DOCKER_PORTS.internal : internalPort(o.basePort, service, index);
      const entry = serviceMain(o.serviceEntryDir, service, o.serviceEntryExt);
      services.push({
        kind: 'service',
        name,
        service,
        index,
        host,
        publicPort: pub,
        internalPort: internal,
        publicUrl: `http://${host}:${pub}`,
        internalUrl: `http://${host}:${internal}`,
        env: {},
        logFile: logFile(name),
        spawn: {
          command: o.binaries.node,
          args: o.serviceEntryExt === 'ts' ? [...FROM_SOURCE, entry] : [entry],
          cwd: o.serviceCwd,
        },
      });
    }
  }
  const proxy = o.faultProxy === true ? planFaultProxy(o, redis, sentinels, services, path.join(runDir, 'fault-proxy.json'), logFile('fault-proxy')) : undefined;
  /** How `from` reaches `to`: through its own link when proxied. */
  const via = (from: string, to: string, direct: Endpoint): Endpoint => proxy?.links.find((l) => l.name === serviceLink(from, to) || l.name === callLink(from, to))?.listen ?? direct;
  const sentinelList = (from: string): string =>
    sentinels
      .map((s) => via(from, s.name, s))
      .map((e) => `${e.host}:${e.port}`)
      .join(',');
  const urlsOf = (from: string, s: ServiceName): string =>
    services
      .filter((r) => r.service === s)
      .map((r) => {
        const e = via(from, r.name, { host: r.host, port: r.internalPort });
        return `http://${e.host}:${e.port}`;
      })
      .join(',');
  for (const r of services) {
    const env: Record<string, string> = {
      SERVICE: r.service,
      REPLICA_ID: r.name,
      HOST: docker ? '0.0.0.0' : '127.0.0.1',
      PUBLIC_PORT: String(r.publicPort),
      INTERNAL_PORT: String(r.internalPort),
      INTERNAL_SECRET: o.internalSecret,
      REDIS_PASSWORD: o.password,
    };
    if (o.layout === 'ha') {
      env.REDIS_SENTINELS = sentinelList(r.name);
      if (proxy !== undefined) env.REDIS_NAT_MAP = natMap(r, redis, sentinels, (to, direct) => via(r.name, to, direct));
      env.REDIS_MASTER_NAME = r.service;
      // Shard k's master name is shardGroupName(service, k): the services derive it from these two.
      env.REDIS_SHARDS = String(shards);
      // While every replica answers, a write waits for all of them; otherwise for the ones
      // Sentinel may promote (DurableWriter in redis.ts, replication/promotable.ts).
      env.REDIS_ACK_REPLICAS = String(REDIS_NODES.ha - 1);
      env.REDIS_ACK_TIMEOUT_MS = '250';
    } else {
      const node = redis.find((n) => n.service === r.service);
      if (node === undefined) throw new TopologyError(`no Redis for ${r.service}`);
      env.REDIS_HOST = node.host;
      env.REDIS_PORT = String(node.port);
      env.REDIS_ACK_REPLICAS = '0';
    }
    if (r.service === 'order') {
      env.STOCK_URLS = urlsOf(r.name, 'stock');
      env.PAYMENT_URLS = urlsOf(r.name, 'payment');
    }
    Object.assign(env, o.serviceEnv?.[r.service] ?? {});
    r.env = env;
    r.spawn.env = { NODE_OPTIONS: SERVICE_NODE_OPTIONS, ...env };
  }

  // In a container nginx may only count on /tmp being writable.
  const prefix = docker ? '/tmp' : path.join(runDir, 'nginx');
  const configFile = docker ? '/etc/nginx/nginx.conf' : path.join(prefix, 'nginx.conf');
  const errorLog = docker ? 'stderr' : path.join(logDir, 'nginx-error.log');
  const gwHost = docker ? '0.0.0.0' : o.gatewayHost;
  const gateway: GatewayNode = {
    kind: 'nginx',
    name: 'gateway',
    host: gwHost,
    port: o.gatewayPort,
    url: `http://${docker ? '127.0.0.1' : o.gatewayHost}:${o.gatewayPort}`,
    prefix,
    configFile,
    errorLog,
    pidFile: path.join(prefix, 'nginx.pid'),
    logFile: logFile('gateway'),
    // -e keeps nginx away from /var/log even before it has read our config.
    spawn: { command: o.binaries.nginx, args: ['-p', prefix, '-c', configFile, '-e', errorLog] },
  };

  return {
    layout: o.layout,
    target: o.target,
    dataDir,
    runDir,
    logDir,
    password: o.password,
    internalSecret: o.internalSecret,
    runAsRoot: o.runAsRoot,
    shards,
    redis,
    sentinels,
    services,
    gateway,
    ...(proxy !== undefined ? { faultProxy: proxy } : {}),
  };
}

/**
 * The fault proxy's links (fault-proxy/links.ts), on the free offsets of the port block.
 * Each Redis server is announced by its peer link's port from here on.
 */
function planFaultProxy(
  o: TopologyOptions,
  redis: RedisNode[],
  sentinels: SentinelNode[],
  services: ServiceReplica[],
  configFile: string,
  logFile: string,
): FaultProxyNode {
  const free = proxyPortOffsets(
    allPortsOf(o).map((p) => p - o.basePort),
    PORT_BLOCK,
  )
    .map((off) => o.basePort + off)
    .filter((p) => p !== o.gatewayPort);
  const host = '127.0.0.1';
  const take = (): Endpoint => {
    const port = free.shift();
    if (port === undefined) throw new TopologyError(`the fault proxy's links do not fit the port block with ${o.replicas} replicas per service`);
    return { host, port };
  };
  const control = take();
  const links: LinkSpec[] = [];
  for (const n of redis) {
    const listen = take();
    links.push({ name: peerLink(n.name), listen, target: { host: n.host, port: n.port } });
    n.announcePort = listen.port;
  }
  for (const r of services) {
    for (const n of redis.filter((x) => x.service === r.service)) {
      links.push({ name: serviceLink(r.name, n.name), listen: take(), target: { host: n.host, port: n.port } });
    }
    for (const s of sentinels) links.push({ name: serviceLink(r.name, s.name), listen: take(), target: { host: s.host, port: s.port } });
    if (r.service !== 'order') continue;
    for (const p of services.filter((x) => x.service !== 'order')) {
      links.push({ name: callLink(r.name, p.name), listen: take(), target: { host: p.host, port: p.internalPort } });
    }
  }
  const entry =
    o.serviceEntryExt === 'ts'
      ? [...FROM_SOURCE, path.join(o.serviceEntryDir, 'launcher', 'src', 'fault-proxy', 'main.ts')]
      : [path.join(o.serviceEntryDir, 'launcher', 'dist', 'src', 'fault-proxy', 'main.js')];
  return {
    kind: 'proxy',
    name: 'fault-proxy',
    host,
    control,
    controlUrl: `http://${control.host}:${control.port}`,
    links,
    configFile,
    logFile,
    spawn: { command: o.binaries.node, args: [...entry, configFile], cwd: o.serviceCwd },
  };
}

/** REDIS_NAT_MAP of a service replica: each announced node address of every shard of its service, and each Sentinel, to its own link. */
function natMap(r: ServiceReplica, redis: RedisNode[], sentinels: SentinelNode[], via: (to: string, direct: Endpoint) => Endpoint): string {
  const pairs: string[] = [];
  for (const n of redis.filter((x) => x.service === r.service)) {
    const e = via(n.name, n);
    pairs.push(`${n.host}:${n.announcePort}=${e.host}:${e.port}`);
  }
  for (const s of sentinels) {
    const e = via(s.name, s);
    pairs.push(`${s.host}:${s.port}=${e.host}:${e.port}`);
  }
  return pairs.join(',');
}

export function faultProxyConfig(p: FaultProxyNode): FaultProxyConfig {
  return { control: p.control, links: p.links };
}

/** Every process in start order: storage first, then what depends on it. */
export function processesOf(t: Topology): ProcessNode[] {
  // The proxy first: replicas dial their primary through it from their first start.
  return [...(t.faultProxy !== undefined ? [t.faultProxy] : []), ...t.redis, ...t.sentinels, ...t.services, t.gateway];
}

/** Every TCP port a local topology listens on, gateway included. */
export function listeningPorts(t: Topology): number[] {
  return [
    ...t.redis.map((n) => n.port),
    ...t.sentinels.map((n) => n.port),
    ...t.services.flatMap((r) => [r.publicPort, r.internalPort]),
    t.gateway.port,
    ...(t.faultProxy !== undefined ? [t.faultProxy.control.port, ...t.faultProxy.links.map((l) => l.listen.port)] : []),
  ];
}

/** The servers of one Redis group, by its Sentinel master name (a service's name is its shard 0). */
export function redisGroup(t: Topology, group: string): RedisNode[] {
  return t.redis.filter((n) => n.group === group);
}

/** Every Redis group's master name, shard 0 of every service first. */
export function groupsOf(t: Pick<Topology, 'redis'>): string[] {
  return [...new Set(t.redis.map((n) => n.group))];
}
