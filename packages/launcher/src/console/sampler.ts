/**
 * What the operator console shows, sampled once a second away from the hot path: the
 * services' own `/metrics` (the counters they keep anyway; nothing is logged or computed per
 * request for the console), the Sentinels' and Redis servers' view of each group, and the
 * supervisor's processes. Keeps a few minutes of history and a timeline of events
 * (failovers, promotable set changes, processes down and restarted).
 */
import { Redis } from 'ioredis';
import type { ServiceName } from '@shop/common/config.js';
import { ERRORS, isErrorCode } from '@shop/common/errors.js';
import {
  latestOfMajority,
  parseInfo,
  parseSentinelMaster,
  parseSentinelReplicas,
  replicaLinks,
  type SentinelRecord,
} from '@shop/common/replication/one-shot.js';
import { nodeId, PROMOTABLE_KEY } from '@shop/common/replication/promotable.js';
import type { ManagedProcess } from '../supervisor.js';
import { groupsOf, redisGroup, SERVICES, type RedisNode, type Topology } from '../topology.js';
import { bucketQuantile, parseProm, type Sample } from '@shop/common/prom-text.js';
import { buckets, counterDelta, sum } from './prom.js';

export interface Point {
  /** When sampled, ms since the epoch. */
  t: number;
  /** Checkouts per second answered 200 having paid now. */
  committed: number;
  /** Checkouts per second of orders already paid (a repeat: 200, nothing charged). */
  alreadyPaid: number;
  /** Refused checkouts per second, by error code (OUT_OF_STOCK, INSUFFICIENT_CREDIT, ...). */
  refused: Record<string, number>;
  /** Checkout answers per second with a 5xx status. */
  errors: number;
  /** Checkout latency over the last few seconds, in ms; null when none was answered. */
  p50: number | null;
  p99: number | null;
  /** Public requests per second, by service. */
  requests: Record<string, number>;
  /** BUSY answers to checkout reserves per second (waits for other checkouts' holds). */
  busy: number;
  inFlight: number;
  /** Unfinished checkout transactions (the order Redis' set); null when no order replica answered. */
  unfinished: number | null;
  parked: number | null;
  recovering: number;
  /** Service replicas whose metrics were read this second, of how many. */
  scraped: number;
  replicas: number;
}

export interface NodeView {
  name: string;
  address: string;
  up: boolean;
  /** As the server itself says (INFO replication): 'master', 'slave', or 'unknown' when it did not answer. */
  role: string;
  /** Named primary by the Sentinels' majority (single layout: the only server). */
  primary: boolean;
  /** Replicas only, as their primary reports them. */
  linkState?: string;
  lagSeconds?: number;
  lagBytes?: number;
  /** In the group's promotable set (promotable.ts): Sentinel may promote it; null when the primary did not say. */
  promotable: boolean | null;
  /** Its replica-priority as a Sentinel sees it (0: never promoted). */
  sentinelPriority?: number;
}

export interface GroupView {
  /** The Sentinels' master name: `stock` (shard 0), `stock-s1`. */
  group: string;
  service: ServiceName;
  shard: number;
  /** Name of the primary the Sentinels' majority names; null without a majority. */
  primary: string | null;
  sentinelsAnswered: number;
  sentinelsAsked: number;
  configEpoch: number | null;
  /** Sentinel's flags for the primary ('master' alone while all is well; s_down, o_down, failover_in_progress...). */
  flags: string[];
  nodes: NodeView[];
}

export interface ProcessView {
  name: string;
  kind: string;
  service?: string;
  pid: number | null;
  state: 'running' | 'down';
  starts: number;
  restarts: number;
  uptimeS: number | null;
}

export type EventKind = 'failover' | 'no-majority' | 'primary-down' | 'promotable' | 'unpromotable' | 'down' | 'restart';

export interface TimelineEvent {
  t: number;
  kind: EventKind;
  group?: string;
  process?: string;
  text: string;
}

export interface ConsoleState {
  now: number;
  since: number;
  layout: string;
  gateway: string;
  series: Point[];
  groups: GroupView[];
  processes: ProcessView[];
  events: TimelineEvent[];
}

export interface SamplerOptions {
  topology: Topology;
  processes: () => ManagedProcess[];
  intervalMs?: number;
  /** Points kept (default 300: five minutes at 1 Hz). */
  history?: number;
}

const CHECKOUT_ROUTE = '/checkout/:order_id';
const LATENCY_WINDOW = 5;
const TIMEOUT_MS = 800;
const MAX_EVENTS = 200;

export class Sampler {
  private readonly t: Topology;
  private readonly processes: () => ManagedProcess[];
  private readonly intervalMs: number;
  private readonly history: number;
  private readonly clients = new Map<string, Redis>();
  private readonly lastScrape = new Map<string, { at: number; samples: Sample[] }>();
  private readonly latencyWindow: Map<number, number>[] = [];
  private readonly series: Point[] = [];
  private readonly events: TimelineEvent[] = [];
  private groups: GroupView[] = [];
  private procs: ProcessView[] = [];
  private readonly lastPids = new Map<string, number | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly since = Date.now();

  constructor(o: SamplerOptions) {
    this.t = o.topology;
    this.processes = o.processes;
    this.intervalMs = o.intervalMs ?? 1000;
    this.history = o.history ?? 300;
  }

  start(): void {
    const tick = () => {
      // A slow second (a server timing out) skips the next tick rather than piling up.
      if (this.ticking !== undefined) return;
      this.ticking = this.tick()
        .catch(() => undefined)
        .finally(() => {
          this.ticking = undefined;
        });
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    for (const c of this.clients.values()) c.disconnect();
    this.clients.clear();
  }

  state(): ConsoleState {
    return {
      now: Date.now(),
      since: this.since,
      layout: this.t.layout,
      gateway: this.t.gateway.url,
      series: this.series,
      groups: this.groups,
      processes: this.procs,
      events: this.events,
    };
  }

  /**
   * A connection to the group's primary as last sampled (else its first server), for the
   * inspector's reads. A service's name is its shard 0, where today's services keep all keys.
   */
  primaryClient(group: string): Redis {
    const view = this.groups.find((g) => g.group === group);
    const nodes = this.t.redis.filter((n) => n.group === group);
    const node = nodes.find((n) => n.name === view?.primary) ?? nodes.find((n) => n.initialPrimary) ?? nodes[0];
    if (node === undefined) throw new Error(`no Redis for ${group}`);
    return this.client(node);
  }

  /**
   * One connection per server, kept: commands fail at once while it is down (no offline
   * queue) and it reconnects by itself, so a dead server costs a failed call, not a hang.
   */
  private client(addr: { host: string; port: number }): Redis {
    const key = `${addr.host}:${addr.port}`;
    let c = this.clients.get(key);
    if (c === undefined) {
      c = new Redis({
        host: addr.host,
        port: addr.port,
        password: this.t.password,
        enableOfflineQueue: false,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => 500,
        connectTimeout: TIMEOUT_MS,
        commandTimeout: TIMEOUT_MS,
        connectionName: 'shop-console',
      });
      c.on('error', () => undefined);
      this.clients.set(key, c);
    }
    return c;
  }

  async tick(): Promise<void> {
    const now = Date.now();
    const [point, groups] = await Promise.all([this.samplePoint(now), Promise.all(groupsOf(this.t).map((g) => this.sampleGroup(g)))]);
    this.noteGroupEvents(now, groups);
    this.groups = groups;
    this.procs = this.sampleProcesses(now);
    this.series.push(point);
    if (this.series.length > this.history) this.series.splice(0, this.series.length - this.history);
  }

  private event(e: TimelineEvent): void {
    this.events.push(e);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  private async scrape(url: string): Promise<Sample[] | undefined> {
    try {
      const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!res.ok) return undefined;
      return parseProm(await res.text());
    } catch {
      return undefined;
    }
  }

  private async samplePoint(now: number): Promise<Point> {
    const replicas = this.t.services;
    const scraped = await Promise.all(replicas.map((r) => this.scrape(r.internalUrl)));
    const point: Point = {
      t: now,
      committed: 0,
      alreadyPaid: 0,
      refused: {},
      errors: 0,
      p50: null,
      p99: null,
      requests: Object.fromEntries(SERVICES.map((s) => [s, 0])),
      busy: 0,
      inFlight: 0,
      unfinished: null,
      parked: null,
      recovering: 0,
      scraped: scraped.filter((s) => s !== undefined).length,
      replicas: replicas.length,
    };
    const latency = new Map<number, number>();
    replicas.forEach((r, i) => {
      const cur = scraped[i];
      if (cur === undefined) return;
      if (r.service === 'order') {
        point.inFlight += sum(cur, 'shop_checkout_in_flight');
        point.recovering += sum(cur, 'shop_checkout_recovering');
        // Every order replica reads the same sets: the largest answer, not the sum.
        const unfinished = cur.find((s) => s.name === 'shop_checkout_unfinished_transactions')?.value;
        if (unfinished !== undefined && Number.isFinite(unfinished)) point.unfinished = Math.max(point.unfinished ?? 0, unfinished);
        const parked = cur.find((s) => s.name === 'shop_checkout_parked_transactions')?.value;
        if (parked !== undefined && Number.isFinite(parked)) point.parked = Math.max(point.parked ?? 0, parked);
      }
      const prev = this.lastScrape.get(r.name);
      this.lastScrape.set(r.name, { at: now, samples: cur });
      if (prev === undefined) return;
      const perS = 1000 / Math.max(1, now - prev.at);
      const rate = (name: string, match: Record<string, string> | ((l: Record<string, string>) => boolean)) =>
        counterDelta(sum(prev.samples, name, match), sum(cur, name, match)) * perS;
      point.requests[r.service] = (point.requests[r.service] ?? 0) + rate('shop_http_requests_total', { surface: 'public' });
      if (r.service !== 'order') return;
      point.committed += rate('shop_checkouts_total', { outcome: 'committed' });
      point.alreadyPaid += rate('shop_checkouts_total', { outcome: 'already_paid' });
      const outcomes = new Set(cur.filter((s) => s.name === 'shop_checkouts_total').map((s) => s.labels.outcome ?? ''));
      for (const outcome of outcomes) {
        if (outcome === 'committed' || outcome === 'already_paid') continue;
        point.refused[outcome] = (point.refused[outcome] ?? 0) + rate('shop_checkouts_total', { outcome });
      }
      point.errors += rate('shop_http_requests_total', (l) => l.surface === 'public' && l.route === CHECKOUT_ROUTE && (l.status ?? '').startsWith('5'));
      point.busy += rate('shop_checkout_busy_waits_total', {});
      const match = { surface: 'public', route: CHECKOUT_ROUTE };
      const before = buckets(prev.samples, 'shop_http_request_duration_seconds', match);
      for (const [le, count] of buckets(cur, 'shop_http_request_duration_seconds', match)) {
        latency.set(le, (latency.get(le) ?? 0) + counterDelta(before.get(le) ?? 0, count));
      }
    });
    // A refusal answered 5xx (a driver out of time) is already among `errors`.
    for (const code of Object.keys(point.refused)) {
      if (!isErrorCode(code) || ERRORS[code].status >= 500) delete point.refused[code];
    }
    this.latencyWindow.push(latency);
    if (this.latencyWindow.length > LATENCY_WINDOW) this.latencyWindow.shift();
    const merged = new Map<number, number>();
    for (const w of this.latencyWindow) for (const [le, c] of w) merged.set(le, (merged.get(le) ?? 0) + c);
    const ms = (q: number) => {
      const v = bucketQuantile(q, merged);
      return v === undefined ? null : Math.round(v * 10_000) / 10;
    };
    point.p50 = ms(0.5);
    point.p99 = ms(0.99);
    return point;
  }

  private async call(node: { host: string; port: number }, ...args: [string, ...(string | number)[]]): Promise<unknown> {
    const [command, ...rest] = args;
    const client = this.client(node);
    // Without an offline queue a command fails at once while (re)connecting: give a
    // connection in progress its chance, so a server just started or restarted shows up.
    if (client.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          client.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, TIMEOUT_MS);
        client.once('ready', done);
      });
    }
    return client.call(command, ...rest);
  }

  private async sampleGroup(group: string): Promise<GroupView> {
    const nodes = redisGroup(this.t, group);
    const first = nodes[0];
    if (first === undefined) throw new Error(`no Redis for ${group}`);
    const byId = new Map<string, RedisNode>();
    for (const n of nodes) {
      byId.set(nodeId(n.host, n.announcePort), n);
      byId.set(nodeId(n.host, n.port), n);
    }
    const infos = await Promise.all(
      nodes.map((n) =>
        this.call(n, 'INFO', 'replication').then(
          (text) => (typeof text === 'string' ? parseInfo(text) : undefined),
          () => undefined,
        ),
      ),
    );
    let primaryNode: RedisNode | undefined;
    let answered = 0;
    let asked = 0;
    let record: SentinelRecord | undefined;
    const priorities = new Map<string, number>();
    if (this.t.layout === 'ha') {
      const records = await Promise.all(
        this.t.sentinels.map((s) => this.call(s, 'SENTINEL', 'MASTER', group).then(parseSentinelMaster, () => undefined)),
      );
      const agreed = latestOfMajority(records, this.t.sentinels.length);
      answered = agreed.answered;
      asked = agreed.asked;
      if (agreed.primary !== undefined) {
        primaryNode = byId.get(nodeId(agreed.primary.host, agreed.primary.port));
        record = records.find((r) => r !== undefined && r.primary.host === agreed.primary?.host && r.primary.port === agreed.primary.port);
      }
      for (const s of this.t.sentinels) {
        const replicas = await this.call(s, 'SENTINEL', 'REPLICAS', group).then(parseSentinelReplicas, () => undefined);
        if (replicas === undefined) continue;
        for (const r of replicas) priorities.set(r.id, r.priority);
        break;
      }
    } else {
      primaryNode = nodes[0];
    }
    const primaryInfo = primaryNode === undefined ? undefined : infos[nodes.indexOf(primaryNode)];
    const links = primaryInfo === undefined ? [] : replicaLinks(primaryInfo);
    const primaryOffset = Number(primaryInfo?.get('master_repl_offset') ?? Number.NaN);
    const members = primaryNode === undefined ? undefined : await this.call(primaryNode, 'SMEMBERS', PROMOTABLE_KEY).catch(() => undefined);
    const promotable = Array.isArray(members) ? new Set(members.map(String)) : undefined;
    return {
      group,
      service: first.service,
      shard: first.shard,
      primary: primaryNode?.name ?? null,
      sentinelsAnswered: answered,
      sentinelsAsked: asked,
      configEpoch: record?.configEpoch ?? null,
      flags: record?.flags ?? [],
      nodes: nodes.map((n, i) => {
        const info = infos[i];
        const id = nodeId(n.host, n.announcePort);
        const link = links.find((l) => byId.get(l.id) === n);
        const priority = priorities.get(id);
        return {
          name: n.name,
          address: `${n.host}:${n.port}`,
          up: info !== undefined,
          role: info?.get('role') ?? 'unknown',
          primary: n === primaryNode,
          ...(link !== undefined
            ? {
                linkState: link.state,
                lagSeconds: link.lag,
                ...(Number.isFinite(primaryOffset) ? { lagBytes: Math.max(0, primaryOffset - link.offset) } : {}),
              }
            : {}),
          promotable: promotable === undefined ? null : promotable.has(id),
          ...(priority !== undefined ? { sentinelPriority: priority } : {}),
        };
      }),
    };
  }

  private noteGroupEvents(now: number, groups: GroupView[]): void {
    for (const g of groups) {
      const before = this.groups.find((p) => p.group === g.group);
      if (before === undefined) continue;
      if (g.primary !== null && before.primary !== null && g.primary !== before.primary) {
        this.event({ t: now, kind: 'failover', group: g.group, text: `${g.group}: failover, primary ${before.primary} → ${g.primary} (epoch ${g.configEpoch ?? '?'})` });
      } else if (g.primary !== null && before.primary === null && this.events.some((e) => e.group === g.group && e.kind === 'no-majority')) {
        this.event({ t: now, kind: 'failover', group: g.group, text: `${g.group}: Sentinels name ${g.primary} primary again` });
      }
      if (g.primary === null && before.primary !== null && this.t.layout === 'ha') {
        this.event({ t: now, kind: 'no-majority', group: g.group, text: `${g.group}: no majority of Sentinels names a primary (${g.sentinelsAnswered}/${g.sentinelsAsked} answer)` });
      }
      const down = (flags: string[]) => flags.includes('s_down') || flags.includes('o_down');
      if (down(g.flags) && !down(before.flags)) {
        this.event({ t: now, kind: 'primary-down', group: g.group, text: `${g.group}: Sentinels see primary ${g.primary ?? '?'} down (${g.flags.join(',')})` });
      }
      for (const n of g.nodes) {
        const was = before.nodes.find((m) => m.name === n.name);
        if (was === undefined || was.promotable === null || n.promotable === null || was.promotable === n.promotable) continue;
        // A primary leaves the set by becoming primary; that shows as the failover.
        if (n.primary || (was.primary && !n.promotable)) continue;
        this.event({
          t: now,
          kind: n.promotable ? 'promotable' : 'unpromotable',
          group: g.group,
          text: n.promotable ? `${g.group}: ${n.name} joined the promotable set` : `${g.group}: ${n.name} left the promotable set`,
        });
      }
    }
  }

  private sampleProcesses(now: number): ProcessView[] {
    return this.processes().map((p) => {
      const pid = p.pid;
      if (this.lastPids.has(p.name)) {
        const was = this.lastPids.get(p.name);
        if (was !== undefined && pid === undefined) this.event({ t: now, kind: 'down', process: p.name, text: `${p.name} exited (pid ${was})` });
        if (pid !== undefined && was !== pid) this.event({ t: now, kind: 'restart', process: p.name, text: `${p.name} restarted (pid ${pid}, start #${p.starts})` });
      }
      this.lastPids.set(p.name, pid);
      return {
        name: p.name,
        kind: p.kind,
        ...(p.service !== undefined ? { service: p.service } : {}),
        pid: pid ?? null,
        state: pid !== undefined ? 'running' : 'down',
        starts: p.starts,
        restarts: Math.max(0, p.starts - 1),
        uptimeS: p.startedAt !== undefined && pid !== undefined ? Math.round((now - p.startedAt) / 1000) : null,
      };
    });
  }
}
