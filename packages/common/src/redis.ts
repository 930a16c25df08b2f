import { Redis, type RedisOptions } from 'ioredis';
import type { ServiceConfig } from './config.js';
import { ShopError, UnknownOutcomeError } from './errors.js';

/**
 * One Redis connection per process, shared by every request: commands pipeline on it.
 *
 * In Sentinel mode ioredis finds the primary through the Sentinels and follows a failover,
 * queueing commands meanwhile. Retries are unbounded here on purpose: callers bound the
 * wait themselves, and the measured failover (~2.3 s) outlasts ioredis' default retry budget.
 */
export function connectRedis(config: Pick<ServiceConfig, 'redis' | 'replicaId'>): Redis {
  const common: RedisOptions = {
    password: config.redis.password,
    connectionName: config.replicaId,
    maxRetriesPerRequest: null,
    // A command unanswered this long is an unknown outcome (see isTransient), never "not applied".
    commandTimeout: 5_000,
    enableAutoPipelining: false,
    // A command in flight on a connection that drops may or may not have run. Resending it
    // blindly could apply a non-idempotent write (add_funds, addItem) twice: fail it instead;
    // idempotent writes are replayed by DurableWriter, the others answer 503 (unknown).
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(50 * attempt, 500),
    // A demoted primary answers READONLY: reconnect (through Sentinel) and resend.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
  if (config.redis.kind === 'direct') {
    return new Redis({ ...common, host: config.redis.host, port: config.redis.port });
  }
  return new Redis({
    ...common,
    sentinels: config.redis.sentinels,
    name: config.redis.masterName,
    sentinelPassword: config.redis.password,
    sentinelRetryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    failoverDetector: true,
  });
}

/**
 * Writes count as done only once enough replicas acknowledged them.
 *
 * `WAIT` covers every write this connection made before it, so one `WAIT` per event-loop
 * turn confirms all the writes of that turn (group commit). A write is confirmed only if
 * the connection it ran on is the one the `WAIT` ran on: a reconnect in between (failover)
 * leaves it unconfirmed, and the caller replays it idempotently.
 */
export class DurableWriter {
  private epoch = 0;
  private pending: Promise<number> | undefined;

  constructor(
    readonly redis: Redis,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {
    redis.on('ready', () => {
      this.epoch++;
    });
  }

  /** The connection epoch to pass to `confirm` after a write. */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** Resolves when writes issued at `epoch` are acknowledged; throws UnknownOutcomeError otherwise. */
  async confirm(epoch: number): Promise<void> {
    if (this.replicas === 0) return;
    if (this.pending === undefined) {
      this.pending = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.pending = undefined;
        return this.redis.wait(this.replicas, this.timeoutMs);
      });
    }
    const waitEpoch = this.epoch;
    const acked = await this.pending;
    if (acked < this.replicas || waitEpoch !== epoch || this.epoch !== epoch) {
      throw new UnknownOutcomeError(`write acknowledged by ${acked} of ${this.replicas} replicas`);
    }
  }

  /**
   * Runs an idempotent write until a replica acknowledged it, replaying it after an
   * unknown outcome. Gives up with UNCONFIRMED after `budgetMs`.
   */
  async idempotent<T>(write: () => Promise<T>, budgetMs = 20_000): Promise<T> {
    const deadline = Date.now() + budgetMs;
    for (let attempt = 1; ; attempt++) {
      const epoch = this.epoch;
      try {
        const result = await write();
        await this.confirm(epoch);
        return result;
      } catch (err) {
        if (!isTransient(err) || Date.now() > deadline) throw asUnconfirmed(err);
        await sleep(Math.min(20 * attempt, 250));
      }
    }
  }

  /** Runs a write that must not be replayed: an unconfirmed outcome becomes a 503. */
  async once<T>(write: () => Promise<T>): Promise<T> {
    const epoch = this.epoch;
    let result: T;
    try {
      result = await write();
    } catch (err) {
      throw asUnconfirmed(err);
    }
    try {
      await this.confirm(epoch);
    } catch (err) {
      throw asUnconfirmed(err);
    }
    return result;
  }
}

/** Errors after which a write may or may not have applied. */
export function isTransient(err: unknown): boolean {
  if (err instanceof UnknownOutcomeError) return true;
  if (!(err instanceof Error)) return false;
  const m = err.message;
  return (
    m.startsWith('READONLY') ||
    m.startsWith('NOREPLICAS') ||
    m.startsWith('LOADING') ||
    m.startsWith('MASTERDOWN') ||
    // A new primary's empty script cache: the script did not run; the replay loads it.
    m.startsWith('NOSCRIPT') ||
    m.includes('Connection is closed') ||
    m.includes('Command timed out') ||
    /ECONN|EPIPE|ETIMEDOUT/.test(m)
  );
}

function asUnconfirmed(err: unknown): unknown {
  return isTransient(err) ? new ShopError('UNCONFIRMED') : err;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
