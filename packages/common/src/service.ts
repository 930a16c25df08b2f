import type { Redis } from 'ioredis';
import { loadConfig, type RedisTarget, type ServiceConfig } from './config.js';
import { buildServiceApps, type ServiceApps } from './http.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { DurableWriter, connectRedis, reviveWhenEnded } from './redis.js';
import { ReplicaGuard } from './replication/guard.js';
import { SentinelFollower } from './replication/sentinel-follower.js';
import { shardGroupName, type Shard } from './shards.js';

export interface ServiceContext {
  config: ServiceConfig;
  /** The service's data, one Redis group per shard (shards.ts); one shard unless REDIS_SHARDS says more. */
  shards: Shard[];
  metrics: Metrics;
  log: Logger;
  apps: ServiceApps;
}

/** What a service adds to the common apps: its routes, and what to stop on shutdown. */
export type ServiceModule = (ctx: ServiceContext) => Promise<{ close?: () => Promise<void> }> | { close?: () => Promise<void> };

/** Wires a service without listening: used by main and by tests. */
export async function buildService(config: ServiceConfig, mod: ServiceModule) {
  const log = createLogger(config.service, config.replicaId, config.logLevel);
  const metrics = new Metrics(config.service, config.replicaId);
  const connections = Array.from({ length: config.redisShards }, (_, index) => connectShard(config, index, log));
  const shards = connections.map((c) => c.shard);
  const apps = buildServiceApps({ config, databases: shards.map((s) => s.redis), metrics, log });
  const ctx: ServiceContext = { config, shards, metrics, log, apps };
  const extra = await mod(ctx);
  const close = async () => {
    await Promise.allSettled([apps.public.close(), apps.internal.close()]);
    await extra.close?.();
    await Promise.all(connections.map((c) => c.close()));
  };
  return { ...ctx, close };
}

/** A shard's client (kept alive across failovers), its durable writer, and its replica guard. */
function connectShard(config: ServiceConfig, index: number, log: Logger): { shard: Shard; close: () => Promise<void> } {
  const target: RedisTarget =
    config.redis.kind === 'sentinel' ? { ...config.redis, masterName: shardGroupName(config.redis.masterName, index) } : config.redis;
  const group = target.kind === 'sentinel' ? target.masterName : config.service;
  const redis = connectRedis({ redis: target, replicaId: config.replicaId });
  const stopReviving = reviveWhenEnded(redis, () => log.warn({ group }, 'redis client had given up after a failover; connecting again'));
  // ioredis reports every failed reconnect: one line per 5 s is enough for an operator.
  let lastRedisWarning = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - lastRedisWarning < 5_000) return;
    lastRedisWarning = Date.now();
    log.warn({ group, err: err.message }, 'redis connection error (repeats silenced for 5 s)');
  });
  const writer = new DurableWriter(redis, config.redisAckReplicas, config.redisAckTimeoutMs);
  const guard = target.kind === 'sentinel' ? startReplicaGuard(config, target, redis, writer, log) : undefined;
  const follower = target.kind === 'sentinel' ? startSentinelFollower(target, redis, writer, log) : undefined;
  return {
    shard: { index, group, redis, writer },
    close: async () => {
      await Promise.all([guard?.stop(), follower?.stop()]);
      stopReviving();
      redis.disconnect();
    },
  };
}

/**
 * Under Sentinel every replica of a service runs a guard per shard; the one holding the
 * group's lease acts. Without it no replica is ever promotable (servers start at priority 0).
 */
function startReplicaGuard(
  config: ServiceConfig,
  target: Extract<RedisTarget, { kind: 'sentinel' }>,
  redis: Redis,
  writer: DurableWriter,
  log: Logger,
): ReplicaGuard {
  const guard = new ReplicaGuard({
    redis,
    writer,
    sentinels: target.sentinels,
    group: target.masterName,
    natMap: target.natMap,
    password: target.password ?? '',
    owner: config.replicaId,
    log,
  });
  guard.start();
  return guard;
}

function startSentinelFollower(target: Extract<RedisTarget, { kind: 'sentinel' }>, redis: Redis, writer: DurableWriter, log: Logger): SentinelFollower {
  const follower = new SentinelFollower({ redis, writer, sentinels: target.sentinels, group: target.masterName, password: target.password ?? '', log });
  follower.start();
  return follower;
}

/** The process entry of every service: load config, listen on both surfaces, stop on SIGTERM. */
export async function runService(mod: ServiceModule): Promise<void> {
  const config = loadConfig();
  const svc = await buildService(config, mod);
  await svc.apps.internal.listen({ host: config.host, port: config.internalPort });
  await svc.apps.public.listen({ host: config.host, port: config.publicPort });
  svc.log.info({ public: config.publicPort, internal: config.internalPort }, 'listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    svc.log.info({ signal }, 'stopping');
    svc.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
