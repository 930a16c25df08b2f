/**
 * One-shot commands to a Redis server or Sentinel, for probes and role decisions.
 *
 * Every call opens its own connection and closes it: no reconnect loop or offline queue
 * may outlive the question, or a dead node would keep the launcher busy (or alive).
 */
import { Redis } from 'ioredis';

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

/** The primary a Sentinel currently names for a master group, or undefined if it does not know. */
export async function sentinelPrimary(sentinel: Address, password: string, group: string): Promise<Address | undefined> {
  const reply = await redisCall(sentinel, password, ['SENTINEL', 'get-master-addr-by-name', group]);
  if (!Array.isArray(reply) || reply.length !== 2) return undefined;
  const [host, port] = reply as unknown[];
  if (typeof host !== 'string' || typeof port !== 'string') return undefined;
  return { host, port: Number(port) };
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

export async function replicationInfo(addr: Address, password: string): Promise<ReplicationInfo> {
  const text = await redisCall(addr, password, ['INFO', 'replication']);
  if (typeof text !== 'string') throw new Error('INFO replication: unexpected reply');
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  const role = fields.get('role') ?? 'unknown';
  let online = 0;
  for (const [k, v] of fields) if (/^slave\d+$/.test(k) && v.includes('state=online')) online++;
  const masterPort = fields.get('master_port');
  return {
    role,
    ...(fields.has('master_host') ? { masterHost: fields.get('master_host') } : {}),
    ...(masterPort !== undefined ? { masterPort: Number(masterPort) } : {}),
    ...(fields.has('master_link_status') ? { masterLinkUp: fields.get('master_link_status') === 'up' } : {}),
    onlineReplicas: online,
  };
}
