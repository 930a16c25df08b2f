/**
 * A whole cluster for tests and fault injection: the launcher's supervisor on free ports in
 * a fresh temp dir, with handles on every process.
 *
 *   const c = await startCluster({ layout: 'ha' });
 *   try { ... c.process('stock-redis-0').signal('SIGKILL') ... await c.waitHealthy(); }
 *   finally { await c.stop(); }
 *
 * Set SHOP_KEEP_CLUSTER_DIR=1 to keep the temp dir (configs, logs) after stop().
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServiceName } from '@shop/common/config.js';
import { startConsole, type ConsoleHandle } from './console/server.js';
import { findServiceEntry, repoRoot } from './entry.js';
import { FaultProxyClient } from './fault-proxy/control.js';
import type { LinkMode, LinkState } from './fault-proxy/proxy.js';
import { localTopology } from './local.js';
import { resolveBinaries } from './prereqs.js';
import { withFreePorts } from './ports.js';
import { loadSecrets } from './secrets.js';
import { Supervisor, type ManagedProcess } from './supervisor.js';
import { layInSnapshot } from './snapshot/restore.js';
import { shardGroupName } from '@shop/common/shards.js';
import { groupsOf, redisGroup, SERVICES, type Layout, type Topology } from './topology.js';

export type { ManagedProcess } from './supervisor.js';
export type { ServiceName } from '@shop/common/config.js';
export type { LinkMode, LinkState } from './fault-proxy/proxy.js';
export { callLink, peerLink, serviceLink } from './fault-proxy/links.js';

export interface ClusterOptions {
  /** Default 'ha'. */
  layout?: Layout;
  /** Replicas per service; default 2. */
  replicas?: number;
  /** Redis groups per service (HA only above 1); default 1. */
  shards?: number;
  /** Extra environment per service (LOG_LEVEL, SHOP_CRASH_POINT, ...). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Restart children that die; default true. */
  restart?: boolean;
  /** Run the services; default: when their entry points exist. */
  services?: boolean;
  /** Run nginx; default true. */
  gateway?: boolean;
  /** Directory with the service packages (`<service>/dist/src/main.js` or `<service>/src/main.ts`); default: beside the launcher package. */
  serviceEntryDir?: string;
  /** Supervisor log lines (restarts, waits); default: appended to <dataDir>/logs/supervisor.log. */
  log?: (line: string) => void;
  /** Use (and keep) this data directory instead of a fresh temporary one. */
  dataDir?: string;
  /** Start from this snapshot (npm run snapshot); the data dir must hold no data. */
  restore?: string;
  /** Fixed ports (e.g. those of an earlier cluster on the same data) instead of free ones. */
  ports?: { basePort: number; gatewayPort: number };
  /**
   * Put a fault proxy on the Redis peer, service -> Redis/Sentinel and order -> participant
   * links (fault-proxy/links.ts) and hand out `links`. HA only; default false.
   */
  faultProxy?: boolean;
  /** Run the operator console (console/server.ts) on a free loopback port; default false. */
  console?: boolean;
}

/** The fault proxy's links of a cluster (`faultProxy: true`). */
export interface FaultLinks {
  /** Every link name (fault-proxy/links.ts spells them: peerLink, serviceLink, callLink). */
  names: string[];
  /** Sets the named links (or those `which` accepts) to `mode`; resolves once it is in effect. */
  set(which: readonly string[] | ((name: string) => boolean), mode: LinkMode): Promise<void>;
  /** Every link back to pass. */
  heal(): Promise<void>;
  list(): Promise<LinkState[]>;
}

export interface ReplicaEndpoints {
  name: string;
  index: number;
  publicUrl: string;
  internalUrl: string;
}

export interface RedisAddress {
  name: string;
  host: string;
  port: number;
}

export interface Cluster {
  layout: Layout;
  dataDir: string;
  /** The ports in use: pass them with `dataDir` to start the same cluster again. */
  ports: { basePort: number; gatewayPort: number };
  gatewayUrl: string;
  /** Replicas of each service (empty when started without services). */
  services: Record<ServiceName, ReplicaEndpoints[]>;
  /** Redis groups per service. */
  shards: number;
  /** Redis servers of each service's shard 0; in HA its Sentinel master name is the service's name. */
  redis: Record<ServiceName, RedisAddress[]>;
  /**
   * Redis servers of every group, by Sentinel master name (shardGroupName: `stock`, `stock-s1`),
   * shard 0 of every service first.
   */
  groups: Record<string, RedisAddress[]>;
  sentinels: RedisAddress[];
  password: string;
  internalSecret: string;
  /** Every managed process, in start order; pids are live (undefined while dead). */
  processes: ManagedProcess[];
  process(name: string): ManagedProcess;
  /** The primary of a group (a master name; a service's name is its shard 0) now, as the Sentinels name it (the only server in 'single'). */
  currentPrimary(group: string): Promise<RedisAddress>;
  /** Every process up, Redis answering with all replicas attached, services ready, gateway up. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops everything and removes the temp dir. */
  stop(): Promise<void>;
  topology: Topology;
  /** Present when started with `faultProxy: true`. */
  links?: FaultLinks;
  /** The operator console's address, when started with `console: true`. */
  consoleUrl?: string;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const layout = opts.layout ?? 'ha';
  const binaries = resolveBinaries({ install: false, log: () => undefined });
  const entry = findServiceEntry(opts.serviceEntryDir);
  const withServices = opts.services ?? entry !== undefined;
  if (withServices && entry === undefined) {
    throw new Error('services requested but no <service>/dist/src/main.js (or <service>/src/main.ts from source) found; build them or pass serviceEntryDir');
  }
  const keepData = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shop-cluster-'));
  const logFile = path.join(dataDir, 'logs', 'supervisor.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = opts.log ?? ((line: string) => fs.appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`));
  const secrets = loadSecrets(dataDir);
  const root = repoRoot();
  let ports = opts.ports;
  const make = (basePort: number, gatewayPort: number) => {
    ports = { basePort, gatewayPort };
    return localTopology({
      layout,
      replicas: opts.replicas ?? 2,
      ...(opts.shards !== undefined ? { shards: opts.shards } : {}),
      gatewayPort,
      basePort,
      dataDir,
      secrets,
      binaries,
      serviceEntry: entry,
      repoRoot: root,
      ...(opts.serviceEnv !== undefined ? { serviceEnv: opts.serviceEnv } : {}),
      ...(opts.faultProxy === true ? { faultProxy: true } : {}),
    });
  };
  const topology = ports === undefined ? await withFreePorts(make) : make(ports.basePort, ports.gatewayPort);
  const supervisor = new Supervisor({
    topology,
    supervise: opts.restart ?? true,
    include: { services: withServices, gateway: opts.gateway ?? true },
    log,
  });
  const removeDir = (): void => {
    if (!keepData && process.env.SHOP_KEEP_CLUSTER_DIR !== '1') fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    if (opts.restore !== undefined) layInSnapshot(topology, opts.restore);
    await supervisor.start();
  } catch (err) {
    removeDir();
    throw err;
  }

  let operatorConsole: ConsoleHandle | undefined;
  if (opts.console === true) {
    try {
      operatorConsole = await startConsole({ topology, processes: () => supervisor.processes, port: 0 });
    } catch (err) {
      await supervisor.stop();
      removeDir();
      throw err;
    }
  }
  const processes = supervisor.processes;
  const byName = new Map(processes.map((p) => [p.name, p]));
  const address = (n: { name: string; host: string; port: number }): RedisAddress => ({ name: n.name, host: n.host, port: n.port });
  const services = Object.fromEntries(
    SERVICES.map((s) => [
      s,
      withServices
        ? topology.services
            .filter((r) => r.service === s)
            .map((r) => ({ name: r.name, index: r.index, publicUrl: r.publicUrl, internalUrl: r.internalUrl }))
        : [],
    ]),
  ) as Record<ServiceName, ReplicaEndpoints[]>;
  const redis = Object.fromEntries(
    SERVICES.map((s) => [s, redisGroup(topology, shardGroupName(s, 0)).map(address)]),
  ) as Record<ServiceName, RedisAddress[]>;
  const groups = Object.fromEntries(groupsOf(topology).map((g) => [g, redisGroup(topology, g).map(address)]));
  let stopped: Promise<void> | undefined;
  const links = topology.faultProxy !== undefined ? faultLinks(topology.faultProxy.controlUrl, topology.faultProxy.links.map((l) => l.name)) : undefined;

  return {
    layout,
    dataDir,
    ports: ports!,
    gatewayUrl: topology.gateway.url,
    services,
    shards: topology.shards,
    redis,
    groups,
    sentinels: topology.sentinels.map(address),
    password: topology.password,
    internalSecret: topology.internalSecret,
    processes,
    process(name: string): ManagedProcess {
      const p = byName.get(name);
      if (p === undefined) throw new Error(`no process named ${name}; have ${[...byName.keys()].join(', ')}`);
      return p;
    },
    currentPrimary: async (group) => address(await supervisor.currentPrimary(group)),
    waitHealthy: (timeoutMs) => supervisor.waitHealthy(timeoutMs),
    stop: () => {
      stopped ??= (operatorConsole?.stop() ?? Promise.resolve()).then(() => supervisor.stop()).finally(removeDir);
      return stopped;
    },
    topology,
    ...(links !== undefined ? { links } : {}),
    ...(operatorConsole !== undefined ? { consoleUrl: operatorConsole.url } : {}),
  };
}

function faultLinks(controlUrl: string, names: string[]): FaultLinks {
  const client = new FaultProxyClient(controlUrl);
  return {
    names,
    set: (which, mode) => {
      const chosen = typeof which === 'function' ? names.filter(which) : which;
      if (chosen.length === 0) return Promise.reject(new Error('no link chosen'));
      return client.set(chosen, mode);
    },
    heal: () => client.set(names, { kind: 'pass' }),
    list: () => client.links(),
  };
}
