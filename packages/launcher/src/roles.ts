/**
 * Which role a Redis server of an HA group starts in.
 *
 * Sentinel is the authority on who the primary is. A server started from its own config
 * as a primary while Sentinel has promoted another runs as a second primary for ~10 s
 * (FIELD-NOTES), taking writes that are then thrown away. So every start asks first:
 * - a restart asks the Sentinels (a majority of them, the latest record winning); if the
 *   dead server was the primary, it waits for them to elect a new one and comes back as
 *   that one's replica;
 * - a cold start of the whole cluster uses what the Sentinels wrote into their config
 *   files before they stopped (the launcher keeps those files across restarts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { agreedPrimary, type AgreedPrimary, type Address } from '@shop/common/replication/one-shot.js';
import { sleep } from '@shop/common/probes.js';
import { AOF_DIR } from './redis-config.js';
import { groupsOf, SENTINEL_TIMING, type RedisNode, type Topology } from './topology.js';

/** Longer than down-after + a failover (~2.3 s), with room for a slow, loaded machine. */
const FAILOVER_WAIT_MS = SENTINEL_TIMING.downAfterMs + 2 * SENTINEL_TIMING.failoverTimeoutMs + 2000;

/** Command-line arguments win over the config file. */
const UNPROMOTABLE = ['--replica-priority', '0'];

/** Where a restarted replica's own AOF waits out its full resync (see setAsideBeforeResync). */
export const AOF_BEFORE_RESYNC = `${AOF_DIR}.before-resync`;

/**
 * A server restarted as a replica copies its primary whole: Redis 7 keeps no replication
 * id in an AOF, so a restart always ends in a full resync that throws the loaded data
 * away. Loading it first only delayed the copy (0.7 s for 260k keys in a chaos run), and
 * while a killed primary is still in its promotable set its group's writes wait for that
 * copy. The files are moved aside, not deleted, replacing the previous set-aside copy: the
 * server starts empty, unpromotable (priority 0) until it has caught up.
 */
export function setAsideBeforeResync(node: Pick<RedisNode, 'dir'>): void {
  const aof = path.join(node.dir, AOF_DIR);
  if (!fs.existsSync(aof)) return;
  const aside = path.join(node.dir, AOF_BEFORE_RESYNC);
  fs.rmSync(aside, { recursive: true, force: true });
  fs.renameSync(aof, aside);
}

const same = (a: Address, b: Address): boolean => a.host === b.host && a.port === b.port;
/** A server as Sentinels and replicas name it (its fault-proxy peer link, when there is one). */
export const announced = (n: RedisNode): Address => ({ host: n.host, port: n.announcePort });

/**
 * The primaries recorded in Sentinel config files: per group, the `sentinel monitor` line
 * of the file with the highest `config-epoch` for it.
 */
export function persistedPrimaries(t: Topology): Map<string, Address> {
  const groups = new Set(groupsOf(t));
  const best = new Map<string, { epoch: number; addr: Address }>();
  for (const s of t.sentinels) {
    let text: string;
    try {
      text = fs.readFileSync(s.configFile, 'utf8');
    } catch {
      continue;
    }
    const epochs = new Map<string, number>();
    for (const m of text.matchAll(/^sentinel config-epoch (\S+) (\d+)$/gm)) epochs.set(m[1] ?? '', Number(m[2]));
    for (const m of text.matchAll(/^sentinel monitor (\S+) (\S+) (\d+) \d+$/gm)) {
      const group = m[1] ?? '';
      if (!groups.has(group)) continue;
      const epoch = epochs.get(group) ?? 0;
      const prev = best.get(group);
      if (prev === undefined || epoch > prev.epoch) best.set(group, { epoch, addr: { host: m[2] ?? '', port: Number(m[3]) } });
    }
  }
  return new Map([...best].map(([g, v]) => [g, v.addr]));
}

export class RoleKeeper {
  /** Last primary we saw per group: the fallback when no Sentinel answers. */
  private readonly known = new Map<string, Address>();

  constructor(
    private readonly t: Topology,
    private readonly log: (line: string) => void,
  ) {
    for (const n of t.redis) if (n.initialPrimary) this.known.set(n.group, announced(n));
    if (t.layout === 'ha') {
      for (const [group, addr] of persistedPrimaries(t)) {
        // Ignore a record that names no server of this topology (it would never come up).
        if (t.redis.some((n) => n.group === group && same(announced(n), addr))) this.known.set(group, addr);
      }
    }
  }

  /** The primary a majority of Sentinels can show (replication/one-shot.ts); undefined without one. */
  async askSentinels(group: string): Promise<Address | undefined> {
    return (await this.ask(group)).primary;
  }

  private async ask(group: string): Promise<AgreedPrimary> {
    const answer = await agreedPrimary(this.t.sentinels, this.t.password, group);
    if (answer.primary !== undefined) this.known.set(group, answer.primary);
    return answer;
  }

  /**
   * A restarted server waits for a majority of Sentinels rather than guess: following a
   * lone stale Sentinel, or our own memory of an old primary, can make it copy an old
   * dataset over its own. No failover can happen without that majority either.
   */
  private async waitForMajority(node: RedisNode, cancelled: () => boolean): Promise<Address | undefined> {
    let warnedAt = 0;
    for (;;) {
      const { primary, answered, asked } = await this.ask(node.group);
      if (primary !== undefined || cancelled()) return primary;
      if (Date.now() - warnedAt >= 5_000) {
        this.log(`${node.name}: ${answered} of ${asked} Sentinels answer; waiting for a majority to name the ${node.group} primary`);
        warnedAt = Date.now();
      }
      await sleep(200);
    }
  }

  /** Extra redis-server arguments for this start of `node`. */
  async startArgs(node: RedisNode, ctx: { restart: boolean; cancelled: () => boolean }): Promise<string[]> {
    if (this.t.layout !== 'ha') return [];
    // Sentinel's CONFIG REWRITE may have saved a raised priority in the config file; a
    // restarted server must not be promotable before it has caught up (replication/guard.ts).
    const replicaOf = await this.replicaOf(node, ctx);
    if (ctx.restart && replicaOf.length > 0) setAsideBeforeResync(node);
    return [...UNPROMOTABLE, ...replicaOf];
  }

  private async replicaOf(node: RedisNode, ctx: { restart: boolean; cancelled: () => boolean }): Promise<string[]> {
    const self = announced(node);
    let primary = ctx.restart ? await this.waitForMajority(node, ctx.cancelled) : undefined;
    if (primary !== undefined && same(primary, self)) {
      this.log(`${node.name} was the ${node.group} primary; waiting for the Sentinels to elect another`);
      const deadline = Date.now() + FAILOVER_WAIT_MS;
      while (Date.now() < deadline && !ctx.cancelled()) {
        await sleep(200);
        const now = await this.askSentinels(node.group);
        if (now !== undefined && !same(now, self)) {
          primary = now;
          break;
        }
      }
    }
    primary ??= this.known.get(node.group);
    if (primary === undefined || same(primary, self)) {
      if (ctx.restart) this.log(`${node.name} restarts as the ${node.group} primary`);
      return [];
    }
    if (ctx.restart) this.log(`${node.name} restarts as a replica of ${primary.host}:${primary.port}`);
    return ['--replicaof', primary.host, String(primary.port)];
  }
}
