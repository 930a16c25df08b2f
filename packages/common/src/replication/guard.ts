/**
 * The replica guard: decides which replicas of a group Sentinel may promote, so that writes
 * need only those replicas' acknowledgements (replication/promotable.ts).
 *
 * Every Redis server starts with `replica-priority 0`. Each tick, the guard holding the
 * group's lease (one per group; any service replica may hold it):
 * 1. gives the primary priority 0, so that it comes back unpromotable once it reports as a
 *    replica, and keeps the primary itself in the set. The set fails over with the data, so
 *    after a failover the new primary's writes wait for the old one until it is back as a
 *    caught-up replica or every Sentinel sees it unpromotable. Sentinel lists a demoted
 *    primary as a replica of default priority 100 until it first reports as one: a primary
 *    paused through a failover that resumes after the new primary died is then promoted
 *    with its old data. Dropping the primary from the set lost confirmed stock writes that
 *    way in a 10-minute storm (several primaries paused and killed within 6 s);
 * 2. adds each caught-up replica to the set (a write every member must acknowledge), and
 *    only once that write is confirmed raises the replica's priority;
 * 3. demotes a member that has lagged or been missing for `graceMs`: priority 0 first, then,
 *    once every Sentinel reports priority 0 (Sentinel reads it only every few seconds), out
 *    of the set. An unreachable member stays: writes wait for it until it is back;
 * 4. fences a stale primary: an old primary paused through a failover comes back still a
 *    primary, with its old data, and Sentinel lists it as a replica of default priority 100
 *    (a primary's INFO carries no `slave_priority`) until it reconfigures it (~8 s). Still a
 *    member (step 1), it holds this primary's writes; the guard makes it a replica of this
 *    primary, while a Sentinel majority vouches for this one and unless it was promoted from
 *    this one (see `fence`), so that it catches up and the writes go on. The guard asks each
 *    lagging member itself too: an old primary cut off from the Sentinels but not from its
 *    services is listed by them as a replica for as long as the cut lasts. Between ticks it
 *    asks the lagging members again every 50 ms: a paused old primary is fenced within
 *    moments of resuming (a pause probe's longest checkout: 9.3 s -> 8.3 s for 8 s).
 *
 * So a server outside the set is never promoted, and a failover loses no confirmed write.
 */
import { GUARD_LEASE, GUARD_MEMBERSHIP } from './outcomes.js';
import type { Redis } from 'ioredis';
import { parseHostPort } from '../config.js';
import type { Logger } from '../log.js';
import { callScript, defineScripts, luaDir } from '../lua.js';
import { execOrThrow, type DurableWriter } from '../redis.js';
import { runEvery, type BackgroundLoop } from '../timing.js';
import {
  parseInfo,
  redisCall,
  replicaLinks,
  sentinelReplicaPriorities,
  sentinelRecord,
  sentinelReplicas,
  type Address,
} from './one-shot.js';
import { GUARD_LEASE_KEY, nodeId, PROMOTABLE_KEY, selfId, type NodeId } from './promotable.js';

/** Priority of a promotable replica: any value above 0; all are equal. */
const PROMOTED_PRIORITY = '100';
/** A replica further behind than this is not caught up: adding it would hold writes back. */
const CATCH_UP_BYTES = 4 * 1024 * 1024;
/** Each tick asks every Sentinel and lagging member; a paused one must not hold the tick long. */
const PEER_QUERY_MS = 300;
/** How long a member's own priority, once seen raised, is trusted without asking again. */
const PRIORITY_RECHECK_MS = 5_000;
/**
 * Between ticks, a lagging member is asked again this long after the last answer or
 * timeout: a paused old primary holds its group's writes until it is fenced, and a tick
 * asks it only every ~0.8 s, longer while those writes keep the service's connection in
 * `WAIT`. A query in flight when it resumes is answered at once.
 */
const FENCE_POLL_MS = 50;
/**
 * How long a tick's list of lagging members is asked between ticks. Longer than a lease: a
 * tick can take seconds while the writes a fence would free keep the service's connection
 * in `WAIT` (a chaos run: the old primary was fenced 1.4 s after resuming, the list expired).
 */
const FENCE_CANDIDATES_TTL_MS = 15_000;

export interface ReplicaGuardOptions {
  /** The service's connection to the group's primary (through Sentinel). */
  redis: Redis;
  writer: DurableWriter;
  sentinels: Address[];
  /** Announced `host:port` -> where to dial it (REDIS_NAT_MAP); the ids stay the announced ones. */
  natMap?: Readonly<Record<string, Address>>;
  /** The group's name at the Sentinels. */
  group: string;
  password: string;
  /** This guard's id in the lease. */
  owner: string;
  log: Logger;
  intervalMs?: number;
  leaseMs?: number;
  graceMs?: number;
}

type Membership = 'add' | 'remove';

export class ReplicaGuard {
  private readonly intervalMs: number;
  private readonly leaseMs: number;
  private readonly graceMs: number;
  private readonly laggingSince = new Map<NodeId, number>();
  private readonly raisedAt = new Map<NodeId, number>();
  private loop: BackgroundLoop | undefined;
  private fencePoll: BackgroundLoop | undefined;
  /** The last lease-holding tick's lagging members, what fencing them needs, and when it listed them. */
  private fenceCandidates: { ids: Set<NodeId>; self: NodeId; replid: string; listedAt: number } | undefined;

  constructor(private readonly o: ReplicaGuardOptions) {
    this.intervalMs = o.intervalMs ?? 500;
    this.leaseMs = o.leaseMs ?? 2_000;
    this.graceMs = o.graceMs ?? 1_000;
    defineScripts(o.redis, luaDir('replication'), ['guard_lease', 'guard_membership']);
  }

  start(): void {
    // A failed tick (a failover under way): the next one starts again from what Redis says.
    this.loop ??= runEvery(this.intervalMs, () => this.tick(), (err) => this.o.log.debug({ err: err.message }, 'replica guard tick failed'));
    this.fencePoll ??= runEvery(FENCE_POLL_MS, () => this.fenceBetweenTicks(), () => undefined);
  }

  async stop(): Promise<void> {
    await Promise.all([this.loop?.stop(), this.fencePoll?.stop()]);
  }

  /** One pass over the group; does nothing unless this guard holds the lease. */
  async tick(): Promise<void> {
    const { redis } = this.o;
    if (redis.status !== 'ready') return;
    if (!(await this.holdLease())) {
      this.fenceCandidates = undefined;
      return;
    }
    const [info, members, priority] = (await execOrThrow(
      redis.pipeline().info('replication').smembers(PROMOTABLE_KEY).config('GET', 'replica-priority'),
    )) as [string, string[], string[]];
    const fields = parseInfo(info);
    if (fields.get('role') !== 'master') {
      this.fenceCandidates = undefined;
      return;
    }
    const self = await selfId(redis);

    if (priority[1] !== '0') {
      await redis.config('SET', 'replica-priority', '0');
      this.o.log.info({ node: self }, 'primary made unpromotable for when it is demoted');
    }
    if (!members.includes(self) && (await this.membership('add', self)) === GUARD_MEMBERSHIP.NO_LEASE) return;

    const primaryOffset = Number(fields.get('master_repl_offset'));
    const caughtUp = new Set(
      replicaLinks(fields)
        .filter((r) => r.state === 'online' && r.lag <= 1 && primaryOffset - r.offset <= CATCH_UP_BYTES)
        .map((r) => r.id),
    );

    // Fence candidates: what the Sentinels see as stale primaries, and every member not
    // replicating from this one. The Sentinels learn a server's role only from the server:
    // an old primary cut off from them (still reached by its services) stays listed as a
    // replica, and the writes that wait for it would wait for the whole partition.
    const replid = fields.get('master_replid') ?? '';
    const lagging = members.filter((id) => id !== self && !caughtUp.has(id));
    // Between ticks only members are asked again (a non-member is added before its fence).
    this.fenceCandidates = lagging.length > 0 ? { ids: new Set(lagging), self, replid, listedAt: Date.now() } : undefined;
    for (const id of new Set([...(await this.stalePrimaries(self)), ...lagging])) {
      if (!members.includes(id) && (await this.membership('add', id, false)) === GUARD_MEMBERSHIP.NO_LEASE) return;
      await this.onNode(id, () => this.fence(id, self, replid));
    }
    for (const id of caughtUp) {
      this.laggingSince.delete(id);
      if (!members.includes(id) && (await this.membership('add', id)) === GUARD_MEMBERSHIP.NO_LEASE) return;
      await this.onNode(id, () => this.makePromotable(id, self));
    }
    const now = Date.now();
    for (const id of members) {
      if (id === self || caughtUp.has(id)) continue;
      const since = this.laggingSince.get(id) ?? now;
      this.laggingSince.set(id, since);
      if (now - since >= this.graceMs) await this.onNode(id, () => this.demote(id));
    }
  }

  /**
   * Asks the last tick's lagging members again, so that an old primary is fenced within
   * moments of resuming. With the tick's own checks (`fence`), which make a late fence safe
   * without the lease: a Sentinel majority vouches for this primary at the moment of
   * fencing, and a server promoted from this one is never fenced.
   */
  private async fenceBetweenTicks(): Promise<void> {
    const c = this.fenceCandidates;
    if (c === undefined || Date.now() - c.listedAt > FENCE_CANDIDATES_TTL_MS) return;
    await Promise.all(
      [...c.ids].map((id) =>
        this.onNode(id, async () => {
          if (await this.fence(id, c.self, c.replid)) c.ids.delete(id);
        }),
      ),
    );
  }

  /** A step on one server; that server being unreachable must not hold up the others. */
  private async onNode(id: NodeId, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.o.log.debug({ node: id, err: (err as Error).message }, 'replica guard step failed');
    }
  }

  private async holdLease(): Promise<boolean> {
    const held = await callScript<Promise<number>>(this.o.redis, 'guard_lease', [GUARD_LEASE_KEY], [this.o.owner, this.leaseMs]);
    return held === GUARD_LEASE.HELD;
  }

  /**
   * Changes the set if this guard still holds the lease: 1 changed, 0 already so, -1 lease lost.
   * An addition counts only once every member, the new one included, has it.
   */
  private async membership(op: Membership, id: NodeId, confirm = op === 'add'): Promise<number> {
    const { redis, writer } = this.o;
    const change = (): Promise<number> =>
      callScript<Promise<number>>(redis, 'guard_membership', [GUARD_LEASE_KEY, PROMOTABLE_KEY], [this.o.owner, op, id]);
    // A lost removal leaves a member that writes wait for: safe, so it needs no confirmation.
    // Nor does adding a stale primary: it cannot acknowledge before it is fenced.
    const changed = confirm ? await writer.idempotent(change, 5_000) : await change();
    // Logged also when a replay found the change already made (0): the set changed this tick.
    if (changed !== GUARD_MEMBERSHIP.NO_LEASE) this.o.log.info({ node: id }, op === 'add' ? 'joined the promotable set' : 'left the promotable set');
    return changed;
  }

  /**
   * Raises a member's priority (it has every confirmed write: writes wait for members), but
   * only while a majority of Sentinels vouches for this primary. A primary that was
   * paused through a failover still answers as one until Sentinel demotes it; replicas it
   * raised would stay promotable outside the real primary's set, which nobody would lower.
   */
  private async makePromotable(id: NodeId, self: NodeId): Promise<void> {
    const last = this.raisedAt.get(id);
    if (last !== undefined && Date.now() - last < PRIORITY_RECHECK_MS) return;
    const node = this.address(id);
    const [, priority] = (await redisCall(node, this.o.password, ['CONFIG', 'GET', 'replica-priority'])) as string[];
    if (priority === '0') {
      // The INFO this tick read may be stale by now: never raise a server that became a primary.
      const [role] = (await redisCall(node, this.o.password, ['ROLE'])) as string[];
      if (role !== 'slave' || !(await this.sentinelsVouchFor(self)) || !(await this.holdLease())) return;
      await redisCall(node, this.o.password, ['CONFIG', 'SET', 'replica-priority', PROMOTED_PRIORITY]);
      this.o.log.info({ node: id }, 'replica made promotable');
    }
    this.raisedAt.set(id, Date.now());
  }

  /**
   * Whether a majority of Sentinels names this server the primary and sees nothing wrong
   * with it. During a failover the promoted replica reports itself a primary before the
   * Sentinels switch to it; by then they flag this one down, so a guard on a primary being
   * failed over from (cut off from its replicas, still reached by its services) never
   * mistakes the new primary for a stale one.
   */
  private async sentinelsVouchFor(self: NodeId): Promise<boolean> {
    const records = await Promise.allSettled(this.o.sentinels.map((s) => sentinelRecord(s, this.o.password, this.o.group)));
    const vouching = records.filter(
      (r) =>
        r.status === 'fulfilled' &&
        r.value !== undefined &&
        nodeId(r.value.primary.host, r.value.primary.port) === self &&
        r.value.flags.every((f) => f === 'master'),
    ).length;
    return vouching > this.o.sentinels.length / 2;
  }

  /** Servers some Sentinel lists as replicas of this group while they say they are primaries. */
  private async stalePrimaries(self: NodeId): Promise<NodeId[]> {
    const views = await Promise.allSettled(
      this.o.sentinels.map((s) => sentinelReplicas(s, this.o.password, this.o.group, PEER_QUERY_MS)),
    );
    const stale = new Set<NodeId>();
    for (const v of views) {
      if (v.status !== 'fulfilled') continue;
      for (const r of v.value) if (r.roleReported === 'master' && r.id !== self) stale.add(r.id);
    }
    return [...stale];
  }

  /**
   * Makes a stale primary a replica of this one, if a Sentinel majority vouches for this one
   * and it was not promoted out of this primary's own stream. A server promoted from this
   * one carries this one's replication id as its second id: it is the newer primary of a
   * failover that some Sentinel leads while the others, having only voted, still name this
   * one and flag nothing. Fencing it undid such a failover in a storm (~30 s of stalled
   * order writes, until the Sentinels failed over again).
   */
  private async fence(id: NodeId, self: NodeId, selfReplid: string): Promise<boolean> {
    const node = this.address(id);
    const info = await redisCall(node, this.o.password, ['INFO', 'replication'], PEER_QUERY_MS);
    const fields = parseInfo(typeof info === 'string' ? info : '');
    if (fields.get('role') !== 'master' || fields.get('master_replid2') === selfReplid) return false;
    if (!(await this.sentinelsVouchFor(self))) return false;
    const me = parseHostPort(self, 'primary address');
    await redisCall(node, this.o.password, ['REPLICAOF', me.host, me.port]);
    this.o.log.warn({ node: id }, 'stale primary fenced: it now replicates from this one');
    return true;
  }

  /** Where to reach the server a node id names. */
  private address(id: NodeId): Address {
    return this.o.natMap?.[id] ?? parseHostPort(id, 'replica address');
  }

  /** Makes a lagging member unpromotable, then drops it once every Sentinel has seen that. */
  private async demote(id: NodeId): Promise<void> {
    this.raisedAt.delete(id);
    try {
      await redisCall(this.address(id), this.o.password, ['CONFIG', 'SET', 'replica-priority', '0']);
    } catch {
      return; // Unreachable (dead or paused): it stays a member, and writes wait for it.
    }
    const views = await Promise.allSettled(
      this.o.sentinels.map((s) => sentinelReplicaPriorities(s, this.o.password, this.o.group)),
    );
    // A Sentinel that does not list it yet reads its priority (0) before it may promote it.
    const everywhere = views.every((v) => v.status === 'fulfilled' && (v.value.get(id) ?? 0) === 0);
    if (everywhere) await this.membership('remove', id);
  }
}
