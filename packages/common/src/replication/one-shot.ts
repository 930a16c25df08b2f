/**
 * One-shot commands to a Redis server or Sentinel: the launcher's probes and role decisions,
 * and the replica guard's questions to single replicas and Sentinels.
 *
 * Every call opens its own connection and closes it: no reconnect loop or offline queue
 * may outlive the question, or a dead node would keep the caller busy (or alive).
 */
import { Redis } from 'ioredis';
import { nodeId } from './promotable.js';

export interface Address {
  host: string;
  port: number;
}

export async function redisCall(
  addr: Address,
  password: string,
  args: [string, ...(string | number)[]],
  timeoutMs = 1000,
): Promise<unknown> {
  const client = new Redis({
    host: addr.host,
    port: addr.port,
    password,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  // Errors surface through the awaited calls; without a listener ioredis also prints them.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [command, ...rest] = args;
    return await client.call(command, ...rest);
  } finally {
    client.disconnect();
  }
}

export async function ping(addr: Address, password: string, timeoutMs = 1000): Promise<boolean> {
  try {
    return (await redisCall(addr, password, ['PING'], timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}

/** What one Sentinel records for a group: its primary, and the config epoch of that record. */
export interface SentinelRecord {
  primary: Address;
  /** Raised by every failover; a higher epoch is a later record. */
  configEpoch: number;
  /** Sentinel's flags for the primary: just 'master' while it sees nothing wrong. */
  flags: string[];
}

/** One Sentinel's record of a group (`SENTINEL MASTER`), or undefined if it does not know the group. */
export async function sentinelRecord(sentinel: Address, password: string, group: string, timeoutMs = 1000): Promise<SentinelRecord | undefined> {
  return parseSentinelMaster(await redisCall(sentinel, password, ['SENTINEL', 'MASTER', group], timeoutMs));
}

/** A `SENTINEL MASTER` reply (also read by clients that keep their connection, the operator console). */
export function parseSentinelMaster(reply: unknown): SentinelRecord | undefined {
  if (!Array.isArray(reply)) return undefined;
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) f.set(String(reply[i]), String(reply[i + 1]));
  const host = f.get('ip');
  const port = Number(f.get('port'));
  if (host === undefined || !(port > 0)) return undefined;
  return { primary: { host, port }, configEpoch: Number(f.get('config-epoch') ?? 0), flags: (f.get('flags') ?? '').split(',') };
}

/** The Sentinels' answer on a group's primary; `primary` is undefined without a majority. */
export interface AgreedPrimary {
  primary: Address | undefined;
  /** How many Sentinels answered, of how many asked. */
  answered: number;
  asked: number;
}

/**
 * The primary of a group by the latest record a majority of Sentinels can show: all are
 * asked at once, and the record with the highest config epoch among the answers wins.
 *
 * Never the first answer alone: a Sentinel that was paused or cut off during a failover
 * still names the old primary until the others' hello messages reach it (~2 s, longer if
 * they are down too). A Redis server restarted on such an answer replicates from the old
 * primary and throws its own data away, confirmed writes included. A majority of answers
 * contains at least one Sentinel of any majority that took part in the last failover.
 */
export async function agreedPrimary(sentinels: readonly Address[], password: string, group: string, timeoutMs = 1000): Promise<AgreedPrimary> {
  const answers = await Promise.allSettled(sentinels.map((s) => sentinelRecord(s, password, group, timeoutMs)));
  return latestOfMajority(
    answers.map((a) => (a.status === 'fulfilled' ? a.value : undefined)),
    sentinels.length,
  );
}

/**
 * Whether record `a` is later than `b`. A higher config epoch is later. At the same epoch,
 * the failover's leader still shows the old address until it has reconfigured every
 * replica (`failover_in_progress`, up to its failover timeout when one is dead), while
 * the others already show the promoted one: theirs is the later record. Following the
 * leader there kept a killed primary from restarting (and its group's writes waiting for
 * it) ~1 s longer per failover.
 */
function later(a: SentinelRecord, b: SentinelRecord): boolean {
  if (a.configEpoch !== b.configEpoch) return a.configEpoch > b.configEpoch;
  return b.flags.includes('failover_in_progress') && !a.flags.includes('failover_in_progress');
}

/** The rule of agreedPrimary, on the records that came back (undefined: no answer). */
export function latestOfMajority(records: readonly (SentinelRecord | undefined)[], asked: number): AgreedPrimary {
  let best: SentinelRecord | undefined;
  let answered = 0;
  for (const r of records) {
    if (r === undefined) continue;
    answered++;
    if (best === undefined || later(r, best)) best = r;
  }
  const majority = Math.floor(asked / 2) + 1;
  return { primary: answered >= majority ? best?.primary : undefined, answered, asked };
}

export interface ReplicationInfo {
  /** 'master' or 'slave' (Redis' own words). */
  role: string;
  masterHost?: string;
  masterPort?: number;
  masterLinkUp?: boolean;
  /** Replicas a primary sees online. */
  onlineReplicas?: number;
}

/** The `field:value` lines of an INFO reply. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

export interface ReplicaLink {
  /** `host:port`, as the replica announces itself. */
  id: string;
  /** 'online' once synced; 'wait_bgsave' or 'send_bulk' during a full sync. */
  state: string;
  /** Replication offset the replica last acknowledged. */
  offset: number;
  /** Seconds since its last acknowledgement. */
  lag: number;
}

/** The replicas listed by a primary's INFO replication (`slaveN:ip=..,port=..,state=..,offset=..,lag=..`). */
export function replicaLinks(fields: Map<string, string>): ReplicaLink[] {
  const links: ReplicaLink[] = [];
  for (const [k, v] of fields) {
    if (!/^slave\d+$/.test(k)) continue;
    const f = new Map(v.split(',').map((kv) => kv.split('=') as [string, string]));
    links.push({
      id: nodeId(f.get('ip') ?? '', f.get('port') ?? ''),
      state: f.get('state') ?? 'unknown',
      offset: Number(f.get('offset') ?? -1),
      lag: Number(f.get('lag') ?? Infinity),
    });
  }
  return links;
}

export async function replicationInfo(addr: Address, password: string): Promise<ReplicationInfo> {
  const text = await redisCall(addr, password, ['INFO', 'replication']);
  if (typeof text !== 'string') throw new Error('INFO replication: unexpected reply');
  const fields = parseInfo(text);
  const role = fields.get('role') ?? 'unknown';
  const online = replicaLinks(fields).filter((r) => r.state === 'online').length;
  const masterPort = fields.get('master_port');
  return {
    role,
    ...(fields.has('master_host') ? { masterHost: fields.get('master_host') } : {}),
    ...(masterPort !== undefined ? { masterPort: Number(masterPort) } : {}),
    ...(fields.has('master_link_status') ? { masterLinkUp: fields.get('master_link_status') === 'up' } : {}),
    onlineReplicas: online,
  };
}

/** One replica of a group as one Sentinel records it (`SENTINEL REPLICAS`). */
export interface SentinelReplica {
  /** `host:port`, as the replica announces itself. */
  id: string;
  /** The priority Sentinel would promote it by: 100 until an INFO of it has said otherwise. */
  priority: number;
  /** What the server itself said last: 'slave', or 'master' for a primary Sentinel has demoted but not yet reconfigured. */
  roleReported: string;
}

export async function sentinelReplicas(sentinel: Address, password: string, group: string, timeoutMs = 1000): Promise<SentinelReplica[]> {
  return parseSentinelReplicas(await redisCall(sentinel, password, ['SENTINEL', 'REPLICAS', group], timeoutMs));
}

/** A `SENTINEL REPLICAS` reply. */
export function parseSentinelReplicas(reply: unknown): SentinelReplica[] {
  if (!Array.isArray(reply)) return [];
  const out: SentinelReplica[] = [];
  for (const entry of reply as unknown[]) {
    if (!Array.isArray(entry)) continue;
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < entry.length; i += 2) f.set(String(entry[i]), String(entry[i + 1]));
    out.push({
      id: nodeId(f.get('ip') ?? '', f.get('port') ?? ''),
      priority: Number(f.get('slave-priority') ?? Number.NaN),
      roleReported: f.get('role-reported') ?? 'unknown',
    });
  }
  return out;
}

/** The replica-priority each replica of a group has in one Sentinel's view, by `host:port`. */
export async function sentinelReplicaPriorities(sentinel: Address, password: string, group: string): Promise<Map<string, number>> {
  return new Map((await sentinelReplicas(sentinel, password, group)).map((r) => [r.id, r.priority]));
}
