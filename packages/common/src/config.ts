/**
 * Service configuration, read from the environment once at start.
 *
 * This is the one contract between a service process and whatever starts it (the local
 * launcher, docker-compose, Kubernetes). Every variable is listed in `ENV_VARS` so the
 * deployment files can be checked against it statically.
 */

export type ServiceName = 'order' | 'stock' | 'payment';

export type RedisTarget =
  | { kind: 'direct'; host: string; port: number; password: string | undefined }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      masterName: string;
      password: string | undefined;
      /**
       * Announced `host:port` of a Redis server or Sentinel -> the address to dial instead
       * (empty unless a fault proxy stands between this replica and its Redis).
       */
      natMap: Record<string, { host: string; port: number }>;
    };

export interface ServiceConfig {
  service: ServiceName;
  /** Name of this replica in logs and metrics. */
  replicaId: string;
  /** Address both listeners bind to. */
  host: string;
  /** Port of the public contract (the gateway's upstream). */
  publicPort: number;
  /** Port of the internal surface: participant steps, health, readiness, metrics. */
  internalPort: number;
  /** Shared secret every internal call must present. */
  internalSecret: string;
  redis: RedisTarget;
  /**
   * Shards of this service's data (shards.ts): under Sentinel, shard k is the group named
   * `<REDIS_MASTER_NAME>-s<k>` (shard 0: `REDIS_MASTER_NAME` itself). 1 on a single Redis.
   */
  redisShards: number;
  /**
   * Every replica of the group (0 on a single Redis). A write counts as done once all of them
   * acknowledged it, or, while some do not answer, every replica Sentinel may promote.
   */
  redisAckReplicas: number;
  /** How long one `WAIT` may block before the write is treated as not yet confirmed. */
  redisAckTimeoutMs: number;
  /** Internal base URLs of the stock replicas (order service only). */
  stockUrls: string[];
  /** Internal base URLs of the payment replicas (order service only). */
  paymentUrls: string[];
  logLevel: string;
  /** Test-only: named checkout step at which the coordinator kills itself. */
  crashPoint: string | undefined;
}

/** Every variable the services read, with whether each service requires it. */
export const ENV_VARS: Record<string, { requiredBy: ServiceName[]; doc: string }> = {
  SERVICE: { requiredBy: ['order', 'stock', 'payment'], doc: 'order | stock | payment' },
  REPLICA_ID: { requiredBy: [], doc: 'replica name in logs and metrics (default: service-pid)' },
  HOST: { requiredBy: [], doc: 'bind address of both listeners (default 127.0.0.1)' },
  PUBLIC_PORT: { requiredBy: ['order', 'stock', 'payment'], doc: 'port of the public API' },
  INTERNAL_PORT: { requiredBy: ['order', 'stock', 'payment'], doc: 'port of the internal API' },
  INTERNAL_SECRET: { requiredBy: ['order', 'stock', 'payment'], doc: 'shared secret of internal calls' },
  REDIS_HOST: { requiredBy: [], doc: 'direct Redis host (when no sentinels are given)' },
  REDIS_PORT: { requiredBy: [], doc: 'direct Redis port (when no sentinels are given)' },
  REDIS_SENTINELS: { requiredBy: [], doc: 'host:port,host:port,... of the Sentinels' },
  REDIS_MASTER_NAME: { requiredBy: [], doc: 'Sentinel master name (default: the service name)' },
  REDIS_PASSWORD: { requiredBy: ['order', 'stock', 'payment'], doc: 'password of the Redis servers and Sentinels' },
  REDIS_SHARDS: {
    requiredBy: [],
    doc: 'shards of the service data, fixed for the life of the data (default 1); shard k>0 is the Sentinel group <REDIS_MASTER_NAME>-s<k>',
  },
  REDIS_NAT_MAP: {
    requiredBy: [],
    doc: 'test only: announced host:port=host:port,... dials each Redis server or Sentinel the Sentinels name at another address (a fault proxy link); default none',
  },
  REDIS_ACK_REPLICAS: { requiredBy: [], doc: 'replicas of the group, all acknowledging each write while they answer (default 0: no wait)' },
  REDIS_ACK_TIMEOUT_MS: { requiredBy: [], doc: 'longest single WAIT; the next one covers the same writes (default 250)' },
  STOCK_URLS: { requiredBy: ['order'], doc: 'comma-separated internal base URLs of stock replicas' },
  PAYMENT_URLS: { requiredBy: ['order'], doc: 'comma-separated internal base URLs of payment replicas' },
  LOG_LEVEL: { requiredBy: [], doc: 'pino level (default info)' },
  SHOP_CRASH_POINT: {
    requiredBy: [],
    doc: 'test only: checkout step at which the coordinator exits; "<step>@<replica id>" limits it to one replica',
  },
};

/** More shards than this is a typo, not a deployment: each is a whole Redis group. */
export const MAX_SHARDS = 256;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function port(env: Env, name: string): number {
  const raw = required(env, name);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`${name} must be a TCP port, got "${raw}"`);
  return n;
}

function nonNegativeInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const host = text.slice(0, at);
  const p = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(p) || p < 1 || p > 65535) throw new ConfigError(`${what}: "${text}" is not host:port`);
  return { host, port: p };
}

function urlList(env: Env, name: string): string[] {
  const urls = required(env, name)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const u of urls) {
    try {
      new URL(u);
    } catch {
      throw new ConfigError(`${name}: "${u}" is not a URL`);
    }
  }
  if (urls.length === 0) throw new ConfigError(`${name} lists no URL`);
  return urls;
}

export function loadConfig(env: Env = process.env): ServiceConfig {
  const service = required(env, 'SERVICE');
  if (service !== 'order' && service !== 'stock' && service !== 'payment') {
    throw new ConfigError(`SERVICE must be order, stock or payment, got "${service}"`);
  }
  const password = required(env, 'REDIS_PASSWORD');
  const sentinels = env.REDIS_SENTINELS;
  const redis: RedisTarget =
    sentinels !== undefined && sentinels !== ''
      ? {
          kind: 'sentinel',
          sentinels: sentinels.split(',').map((s) => parseHostPort(s.trim(), 'REDIS_SENTINELS')),
          masterName: env.REDIS_MASTER_NAME ?? service,
          password,
          natMap: parseNatMap(env.REDIS_NAT_MAP),
        }
      : { kind: 'direct', host: env.REDIS_HOST ?? '127.0.0.1', port: port(env, 'REDIS_PORT'), password };
  const redisShards = nonNegativeInt(env, 'REDIS_SHARDS', 1);
  if (redisShards < 1 || redisShards > MAX_SHARDS) throw new ConfigError(`REDIS_SHARDS must be in 1..${MAX_SHARDS}, got ${redisShards}`);
  if (redisShards > 1 && redis.kind === 'direct') throw new ConfigError('REDIS_SHARDS above 1 needs Sentinel (REDIS_SENTINELS): each shard is a group');
  const isOrder = service === 'order';
  return {
    service,
    replicaId: env.REPLICA_ID ?? `${service}-${process.pid}`,
    host: env.HOST ?? '127.0.0.1',
    publicPort: port(env, 'PUBLIC_PORT'),
    internalPort: port(env, 'INTERNAL_PORT'),
    internalSecret: required(env, 'INTERNAL_SECRET'),
    redis,
    redisShards,
    redisAckReplicas: nonNegativeInt(env, 'REDIS_ACK_REPLICAS', 0),
    redisAckTimeoutMs: nonNegativeInt(env, 'REDIS_ACK_TIMEOUT_MS', 250),
    stockUrls: isOrder ? urlList(env, 'STOCK_URLS') : [],
    paymentUrls: isOrder ? urlList(env, 'PAYMENT_URLS') : [],
    logLevel: env.LOG_LEVEL ?? 'info',
    crashPoint: crashPointFor(env.SHOP_CRASH_POINT, env.REPLICA_ID),
  };
}

function parseNatMap(text: string | undefined): Record<string, { host: string; port: number }> {
  const map: Record<string, { host: string; port: number }> = {};
  for (const pair of (text ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [from, to] = pair.split('=');
    if (from === undefined || to === undefined) throw new ConfigError(`REDIS_NAT_MAP: "${pair}" is not host:port=host:port`);
    const key = parseHostPort(from.trim(), 'REDIS_NAT_MAP');
    map[`${key.host}:${key.port}`] = parseHostPort(to.trim(), 'REDIS_NAT_MAP');
  }
  return map;
}

function crashPointFor(setting: string | undefined, replicaId: string | undefined): string | undefined {
  if (setting === undefined || setting === '') return undefined;
  const [point, replica] = setting.split('@');
  return replica === undefined || replica === replicaId ? point : undefined;
}
