/**
 * Runs a local topology: lays out its files, starts every process in dependency order
 * (Redis → Sentinels → services → nginx), waits until each tier answers, restarts what dies,
 * and stops everything in reverse order. Shared by `packages/launcher/src/main.ts` and the test harness.
 */
import fs from 'node:fs';
import type { ServiceName } from '@shop/common/config.js';
import { Child } from './child.js';
import { layOut } from './files.js';
import { DEFAULT_LOG_CHECK_MS, DEFAULT_LOG_MAX_BYTES, LogRotator, tail } from './logs.js';
import { PidRegistry } from './orphans.js';
import { makePrivate, privateUmask } from './private.js';
import { httpStatus, waitFor } from '@shop/common/probes.js';
import { ping, replicationInfo, sentinelReplicaPriorities } from '@shop/common/replication/one-shot.js';
import { nodeId } from '@shop/common/replication/promotable.js';
import { announced, RoleKeeper } from './roles.js';
import { groupsOf, processesOf, type ProcessKind, type ProcessNode, type RedisNode, type Topology } from './topology.js';

export interface ManagedProcess {
  readonly name: string;
  readonly kind: ProcessKind;
  /** The service a replica serves, or whose data a Redis server holds. */
  readonly service?: ServiceName;
  /** A Redis server's group: the Sentinels' master name (`stock`, `stock-s1`). */
  readonly group?: string;
  /** Current pid; undefined while it is dead. */
  readonly pid: number | undefined;
  /** Number of times it has been started. */
  readonly starts: number;
  /** When its current run started (ms since the epoch); undefined while it is dead. */
  readonly startedAt: number | undefined;
  signal(sig: NodeJS.Signals): void;
}

export interface SupervisorOptions {
  topology: Topology;
  /** Restart children that die (default true). */
  supervise?: boolean;
  /** Which tiers beyond Redis and Sentinel to run (default: all). */
  include?: { services?: boolean; gateway?: boolean };
  log?: (line: string) => void;
  /** Per-tier wait for readiness. */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace at stop. */
  stopGraceMs?: number;
  /** A log larger than this is rotated (logs.ts); default 64 MiB. */
  logMaxBytes?: number;
  /** How often every log's size is checked; default a minute. */
  logCheckMs?: number;
}

/** A child that crashed this often while we waited for it will not come up by waiting longer. */
const MAX_STARTS_WHILE_WAITING = 4;

export class Supervisor {
  readonly topology: Topology;
  private readonly children = new Map<string, Child>();
  private readonly nodes: ProcessNode[];
  private readonly log: (line: string) => void;
  private readonly supervise: boolean;
  private readonly startTimeoutMs: number;
  private readonly stopGraceMs: number;
  private readonly pids: PidRegistry;
  private readonly logMaxBytes: number;
  private readonly rotator: LogRotator;
  private roles: RoleKeeper | undefined;
  private stopped = false;

  constructor(o: SupervisorOptions) {
    this.topology = o.topology;
    this.log = o.log ?? (() => undefined);
    this.supervise = o.supervise ?? true;
    this.startTimeoutMs = o.startTimeoutMs ?? 30_000;
    this.stopGraceMs = o.stopGraceMs ?? 5000;
    const t = o.topology;
    this.nodes = processesOf(t).filter(
      (n) =>
        (n.kind !== 'service' || o.include?.services !== false) && (n.kind !== 'nginx' || o.include?.gateway !== false),
    );
    this.pids = new PidRegistry(t.runDir);
    this.logMaxBytes = o.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
    this.rotator = new LogRotator(t.logDir, this.logMaxBytes, o.logCheckMs ?? DEFAULT_LOG_CHECK_MS, this.log);
  }

  /** The managed processes, in start order. */
  get processes(): ManagedProcess[] {
    return this.nodes.map((n) => {
      const child = this.childOf(n.name);
      const service = n.kind === 'service' || n.kind === 'redis' ? n.service : undefined;
      return {
        name: n.name,
        kind: n.kind,
        ...(service !== undefined ? { service } : {}),
        ...(n.kind === 'redis' ? { group: n.group } : {}),
        get pid() {
          return child.pid;
        },
        get starts() {
          return child.starts;
        },
        get startedAt() {
          return child.alive ? child.startedAt : undefined;
        },
        signal: (sig: NodeJS.Signals) => child.signal(sig),
      };
    });
  }

  private childOf(name: string): Child {
    const c = this.children.get(name);
    if (c === undefined) throw new Error(`no process named ${name}`);
    return c;
  }

  /** Kills servers a previous launcher on this data dir left running when it was killed. */
  async reapLeftovers(): Promise<void> {
    const leftovers = await this.pids.reapLeftovers();
    if (leftovers.length > 0) this.log(`killed processes left by a previous launcher: ${leftovers.join(', ')}`);
  }

  async start(): Promise<void> {
    const t = this.topology;
    // Before anything is created: every file of the data dir, ours or a child's, owner-only.
    privateUmask();
    const open = makePrivate(t.dataDir);
    if (open.length > 0) this.log(`could not make private (not ours?): ${open.slice(0, 5).join(', ')}${open.length > 5 ? ', …' : ''}`);
    fs.mkdirSync(t.runDir, { recursive: true });
    await this.reapLeftovers();
    const { keptSentinelState } = layOut(t);
    if (keptSentinelState) this.log('kept the Sentinels’ state from the previous run');
    const roles = new RoleKeeper(t, this.log);
    this.roles = roles;
    for (const n of this.nodes) {
      this.children.set(
        n.name,
        new Child({
          name: n.name,
          spawn: n.spawn,
          logFile: n.logFile,
          supervise: this.supervise,
          logMaxBytes: this.logMaxBytes,
          log: this.log,
          onSpawn: (pid) => {
            if (!this.stopped) this.pids.record(n.name, pid);
          },
          ...(n.kind === 'redis' ? { prepare: (ctx) => roles.startArgs(n, ctx) } : {}),
        }),
      );
    }
    this.rotator.start();
    try {
      await this.startTier('proxy', (n) => (n.kind === 'proxy' ? httpStatus(`${n.controlUrl}/links`).then((s) => s === 200) : Promise.resolve(true)));
      await this.startTier('redis', (n) => (n.kind === 'redis' ? ping(n, t.password) : Promise.resolve(true)));
      if (t.layout === 'ha') {
        await this.startTier('sentinel', (n) => (n.kind === 'sentinel' ? ping(n, t.password) : Promise.resolve(true)));
        await this.waitReplication(this.startTimeoutMs);
      }
      await this.startTier('service', (n) =>
        n.kind === 'service' ? httpStatus(`${n.internalUrl}/health`).then((s) => s === 200) : Promise.resolve(true),
      );
      await this.startTier('nginx', () => httpStatus(`${t.gateway.url}/`).then((s) => s !== undefined));
      if (this.guarded) {
        await waitFor('the replicas to be promotable', () => this.replicasPromotable(), { timeoutMs: this.startTimeoutMs, abort: this.stopAsked });
      }
    } catch (err) {
      // Also when a stop was asked meanwhile: that stop may have run before this start
      // spawned the tier it was waiting for, which only this one stops.
      await this.stop();
      throw err;
    }
  }

  private async startTier(kind: ProcessKind, ready: (n: ProcessNode) => Promise<boolean>): Promise<void> {
    const tier = this.nodes.filter((n) => n.kind === kind);
    await Promise.all(tier.map((n) => this.childOf(n.name).start()));
    await Promise.all(
      tier.map((n) => {
        const child = this.childOf(n.name);
        return waitFor(`${n.name} to answer`, () => ready(n), {
          timeoutMs: this.startTimeoutMs,
          abort: () =>
            this.stopAsked() ??
            (child.starts >= MAX_STARTS_WHILE_WAITING || (!this.supervise && !child.alive)
              ? `it keeps exiting; last lines of ${n.logFile}:\n${tail(n.logFile)}`
              : undefined),
        }).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}\nlast lines of ${n.logFile}:\n${tail(n.logFile)}`);
        });
      }),
    );
  }

  /** Primaries refuse writes until a replica is attached (min-replicas-to-write). */
  private async waitReplication(timeoutMs: number): Promise<void> {
    const t = this.topology;
    await Promise.all(
      groupsOf(t).map((g) =>
        waitFor(
          `the ${g} Redis replicas to sync`,
          async () => {
            const primary = await this.currentPrimary(g);
            const info = await replicationInfo(primary, t.password);
            const want = t.redis.filter((n) => n.group === g).length - 1;
            return info.role === 'master' && (info.onlineReplicas ?? 0) >= want;
          },
          { timeoutMs, abort: this.stopAsked },
        ),
      ),
    );
  }

  /** Whether services run here whose replica guards make replicas promotable (HA only). */
  private get guarded(): boolean {
    return this.topology.layout === 'ha' && this.nodes.some((n) => n.kind === 'service');
  }

  /**
   * Every replica of every group promotable as every Sentinel sees it: until then a failover
   * has no replica to promote (servers start unpromotable; the services' guards raise them).
   */
  private async replicasPromotable(): Promise<boolean> {
    const t = this.topology;
    for (const group of groupsOf(t)) {
      const primary = await this.currentPrimary(group);
      const replicas = t.redis.filter((n) => n.group === group && n !== primary).map((n) => nodeId(n.host, n.announcePort));
      for (const sentinel of t.sentinels) {
        const priorities = await sentinelReplicaPriorities(sentinel, t.password, group).catch(() => new Map<string, number>());
        if (!replicas.every((r) => (priorities.get(r) ?? 0) > 0)) return false;
      }
    }
    return true;
  }

  /** The Redis server that is primary of a group now, as the Sentinels see it. */
  async currentPrimary(group: string): Promise<RedisNode> {
    const t = this.topology;
    const nodes = t.redis.filter((n) => n.group === group);
    if (t.layout !== 'ha') {
      const only = nodes[0];
      if (only === undefined) throw new Error(`no Redis for ${group}`);
      return only;
    }
    if (this.roles === undefined) throw new Error('not started');
    const addr = await this.roles.askSentinels(group);
    if (addr === undefined) throw new Error(`no Sentinel knows the ${group} primary`);
    const node = nodes.find((n) => announced(n).host === addr.host && announced(n).port === addr.port);
    if (node === undefined) throw new Error(`Sentinels name ${addr.host}:${addr.port}, not a ${group} server`);
    return node;
  }

  /**
   * Resolves when the whole cluster is back to full strength: every process running, every
   * Redis answering, each primary with all its replicas, every service ready, the gateway up.
   */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const t = this.topology;
    await waitFor(
      'the cluster to be healthy',
      async () => {
        for (const n of this.nodes) {
          if (!this.childOf(n.name).alive) return false;
          if ((n.kind === 'redis' || n.kind === 'sentinel') && !(await ping(n, t.password))) return false;
          if (n.kind === 'service' && (await httpStatus(`${n.internalUrl}/ready`)) !== 200) return false;
          if (n.kind === 'nginx' && (await httpStatus(`${t.gateway.url}/`)) === undefined) return false;
        }
        if (t.layout === 'ha') await this.waitReplication(1);
        return !this.guarded || (await this.replicasPromotable());
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** A start-up wait gives up at once when a stop was asked meanwhile (Ctrl-C while starting). */
  private readonly stopAsked = (): string | undefined => (this.stopped ? 'stopped while starting' : undefined);

  /** Stops every process (nginx first, Redis last) and waits until all are gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.rotator.stop();
    const order: ProcessKind[] = ['nginx', 'service', 'sentinel', 'redis', 'proxy'];
    for (const kind of order) {
      const tier = this.nodes.filter((n) => n.kind === kind).flatMap((n) => this.children.get(n.name) ?? []);
      await Promise.all(tier.map((c) => c.stop(this.stopGraceMs)));
    }
    this.pids.clear();
  }
}
