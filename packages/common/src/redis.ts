import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import type { ServiceConfig } from './config.js';
import { ShopError, UnconfirmedWriteError, UnknownOutcomeError } from './errors.js';
import { BACKOFF, TIMING, retryUntil, sleep } from './timing.js';
import { PROMOTABLE_KEY, parseRole, promotableAcked, selfId, type NodeId } from './replication/promotable.js';

/**
 * One Redis connection per process, shared by every request: commands pipeline on it.
 *
 * In Sentinel mode ioredis finds the primary through the Sentinels and follows a failover,
 * reconnecting without end. A command does not ride through a reconnect, though: it fails
 * at once (`maxRetriesPerRequest: 0`) and its caller, who knows whether it may be replayed,
 * decides. With `null`, a command in flight when the connection dropped is silently
 * forgotten by ioredis (autoResendUnfulfilledCommands off) and only the 5 s command timeout
 * ends it: a measured 5 s stall of every checkout in flight at a primary kill.
 */
export function connectRedis(config: Pick<ServiceConfig, 'redis' | 'replicaId'>): Redis {
  const common: RedisOptions = {
    password: config.redis.password,
    connectionName: config.replicaId,
    maxRetriesPerRequest: 0,
    // A command unanswered this long is an unknown outcome (see isTransient), never "not applied".
    commandTimeout: TIMING.redisCommandTimeoutMs,
    enableAutoPipelining: false,
    // A command in flight on a connection that drops may or may not have run. Resending it
    // blindly could apply a non-idempotent write (add_funds, addItem) twice: fail it instead;
    // idempotent writes are replayed by DurableWriter, the others answer 503 (unknown).
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(50 * attempt, 500),
    // On a failover ioredis closes the old connection politely and waits for the server's
    // side of the close; a paused old primary never answers, and the default 2 s wait came
    // on top of every failover (measured: 5.5 s instead of 3 s to the first checkout).
    disconnectTimeout: 100,
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
    // Servers and Sentinels are named by their announced addresses; a fault proxy may stand
    // between this process and each of them (REDIS_NAT_MAP).
    ...(Object.keys(config.redis.natMap).length > 0 ? { natMap: config.redis.natMap } : {}),
  });
}

/**
 * Starts a client again when ioredis has given up on it for good, until the returned stop
 * function is called (before closing the client on purpose).
 *
 * ioredis ends a Sentinel-mode client for good when a failover notice closes the connection
 * while it is still asking the Sentinels for the primary (the connector throws "Connection
 * is closed" and the client goes to "end"). Chaos seed 303 left both stock replicas with a
 * dead client after two failovers 13 s apart: every later request failed until a restart.
 */
export function reviveWhenEnded(redis: Redis, onRevive: () => void = () => undefined): () => void {
  let stopped = false;
  const onEnd = (): void => {
    setTimeout(() => {
      if (stopped || redis.status !== 'end') return;
      onRevive();
      redis.connect().catch(() => undefined);
    }, 100);
  };
  redis.on('end', onEnd);
  return () => {
    stopped = true;
    redis.off('end', onEnd);
  };
}

/**
 * Writes count as done only once every replica Sentinel may promote acknowledged them.
 *
 * `WAIT` covers every write this connection made before it, so one `WAIT` per event-loop
 * turn confirms all the writes of that turn (group commit). A write is confirmed only if
 * the connection it ran on is the one the `WAIT` ran on: a reconnect in between (failover)
 * leaves it unconfirmed, and the caller replays it idempotently.
 *
 * While every replica answers, `WAIT <all>` is the whole cost. When one lags or is gone (a
 * killed primary restarting as a replica, a paused one coming back), the writer falls back
 * to the promotable set (replication/promotable.ts): the writes are safe once every member
 * has them, because only members can be promoted. Waiting for fewer replicas without that
 * set lost acknowledged payment writes in 10-minute chaos runs: Sentinel promotes the replica
 * whose offset looked largest seconds earlier, which may be the one left out.
 */
export class DurableWriter {
  private epoch = 0;
  private pending: Promise<boolean> | undefined;
  /**
   * Writes of `idempotent`, `idempotentPipeline` and `once` between their sending and their
   * confirmation (or failure): while any, a pipeline shares the turn's WAIT.
   */
  private unconfirmed = 0;
  /** Set once a WAIT missed a replica; cleared when all of them answer again. */
  private degraded = false;
  /** Acknowledgements the promotable set needs, as last seen. */
  private needed = 1;
  private self: { epoch: number; id: NodeId } | undefined;

  constructor(
    readonly redis: Redis,
    /** Every replica of the group: while all of them answer, one WAIT confirms. */
    private readonly replicas: number,
    /** One WAIT lasts at most this long; the next one covers the same writes. */
    private readonly waitStepMs: number,
    /** After this long without every acknowledgement, the outcome is unknown. */
    private readonly confirmBudgetMs: number = TIMING.confirmBudgetMs,
  ) {
    redis.on('ready', () => {
      this.epoch++;
    });
  }

  /**
   * The server this connection writes to, while its writes miss acknowledgements from some
   * replica (known from the last confirmation that had to fall back to the promotable set).
   */
  degradedOn(): NodeId | undefined {
    return this.degraded && this.self?.epoch === this.epoch ? this.self.id : undefined;
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
        return this.waitForAcks();
      });
    }
    const waitEpoch = this.epoch;
    const acked = await this.pending;
    if (!acked || waitEpoch !== epoch || this.epoch !== epoch) {
      throw new UnknownOutcomeError('write not acknowledged by every promotable replica');
    }
  }

  private async waitForAcks(): Promise<boolean> {
    const epoch = this.epoch;
    const deadline = Date.now() + this.confirmBudgetMs;
    if (!this.degraded) {
      // WAIT covers what this connection wrote. Scripts that answer from other drivers'
      // writes write a barrier of their own (lua/includes/barrier.lua), so it covers those too.
      const acked = await this.redis.wait(this.replicas, this.waitStepMs);
      if (acked >= this.replicas) return true;
      this.degraded = true;
    }
    // Not every replica answers: the promotable ones suffice. `target` is the primary's
    // offset after this turn's commands, so everything they wrote or read lies below it.
    let target: number | undefined;
    for (let round = 0; ; round++) {
      const self = await this.selfId(epoch);
      const p = this.redis.pipeline();
      if (target === undefined) p.call('ROLE');
      p.wait(this.needed, this.waitStepMs).call('ROLE').smembers(PROMOTABLE_KEY);
      const replies = await execOrThrow(p);
      if (target === undefined) target = parseRole(replies.shift()).offset;
      const [acked, role, members] = replies as [number, unknown, string[]];
      if (acked >= this.replicas) {
        this.degraded = false;
        return true;
      }
      const verdict = promotableAcked(parseRole(role), members, self, target);
      this.needed = verdict.needed;
      if (verdict.confirmed) return true;
      if (this.epoch !== epoch || Date.now() > deadline) return false;
      // WAIT returns at once when other replicas already acknowledged: do not spin.
      await sleep(Math.min(10 * (round + 1), 100));
    }
  }

  /** The primary's own entry in the promotable set: it needs no acknowledgement from itself. */
  private async selfId(epoch: number): Promise<NodeId> {
    if (this.self?.epoch !== epoch) this.self = { epoch, id: await selfId(this.redis) };
    return this.self.id;
  }

  /**
   * Runs an idempotent write until a replica acknowledged it, replaying it after an
   * unknown outcome. Gives up with UnconfirmedWriteError after `budgetMs`.
   */
  idempotent<T>(write: () => Promise<T>, budgetMs: number = TIMING.idempotentWriteBudgetMs): Promise<T> {
    return this.replayedUntilConfirmed(async (epoch) => {
      const result = await write();
      await this.confirm(epoch);
      return result;
    }, budgetMs);
  }

  /**
   * `idempotent` for one pipeline that `fill` builds: resolves with its replies (settled
   * one by one, as `execSettled`) once confirmed.
   *
   * While no other durable write of this connection awaits its confirmation (light load),
   * the pipeline carries its own `WAIT`: one round trip instead of two. Otherwise, and
   * while some replica does not answer, it is confirmed by the turn's shared `WAIT` as any
   * write: under load one shared WAIT confirms many batches, and a WAIT of one pipeline
   * would block the connection and hold the shared one back (docs/measurements.md).
   */
  idempotentPipeline(fill: (pipeline: ChainableCommander) => void, budgetMs: number = TIMING.idempotentWriteBudgetMs): Promise<[Error | null, unknown][]> {
    return this.replayedUntilConfirmed(async (epoch, alone) => {
      const pipeline = this.redis.pipeline();
      fill(pipeline);
      if (!alone || this.degraded || this.replicas === 0) {
        const replies = await execSettled(pipeline);
        await this.confirm(epoch);
        return replies;
      }
      pipeline.wait(this.replicas, this.waitStepMs);
      const replies = await execSettled(pipeline);
      const [waitError, acked] = replies.pop() ?? [new Error('no WAIT reply'), 0];
      // A replica short (or a WAIT refused): the regular confirmation, with its fallback
      // to the promotable set, covers these writes too (same connection).
      if (waitError !== null || Number(acked) < this.replicas || this.epoch !== epoch) await this.confirm(epoch);
      return replies;
    }, budgetMs);
  }

  /**
   * Runs `attempt` (a write and its confirmation) again after each unknown outcome until
   * `budgetMs` has passed. `alone`: no other durable write awaited its confirmation when
   * this attempt began.
   */
  private async replayedUntilConfirmed<T>(attempt: (epoch: number, alone: boolean) => Promise<T>, budgetMs: number): Promise<T> {
    try {
      return await retryTransient(async () => {
        const alone = this.unconfirmed === 0;
        return this.tracked(() => attempt(this.epoch, alone));
      }, budgetMs);
    } catch (err) {
      throw asUnconfirmed(err);
    }
  }

  /** Runs a write and its confirmation, counted in `unconfirmed` meanwhile. */
  private async tracked<T>(op: () => Promise<T>): Promise<T> {
    this.unconfirmed++;
    try {
      return await op();
    } finally {
      this.unconfirmed--;
    }
  }

  /**
   * Runs a write that must not be replayed: an unconfirmed outcome becomes a 503. It is
   * sent only on a live connection (queued while ioredis reconnects, it would fail at the
   * next attempt with an unknown outcome), and sent again when Redis refused it unrun.
   */
  async once<T>(write: () => Promise<T>, budgetMs: number = TIMING.onceWriteBudgetMs): Promise<T> {
    const deadline = Date.now() + budgetMs;
    for (let attempt = 1; ; attempt++) {
      if (!(await this.connected(deadline - Date.now()))) {
        throw new ShopError('UNAVAILABLE', 'database unreachable; nothing was written');
      }
      const epoch = this.epoch;
      const sent = await this.tracked(async () => {
        let result: T;
        try {
          result = await write();
        } catch (err) {
          if (refusedUnrun(err) && Date.now() < deadline) return undefined; // nothing written: send again
          throw asUnconfirmed(err);
        }
        try {
          await this.confirm(epoch);
        } catch (err) {
          throw asUnconfirmed(err);
        }
        return { result };
      });
      if (sent !== undefined) return sent.result;
      await sleep(BACKOFF.refusedUnrun(attempt));
    }
  }

  /** Whether the connection is (or within `timeoutMs` becomes) ready for commands. */
  private connected(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      this.redis.once('ready', onReady);
    });
  }
}

/**
 * The one place where a Redis driver error is read for what it means to the caller:
 *
 *   'refused-unrun'  Redis refused the command before it wrote anything: a replica
 *                    (READONLY), a primary without enough replicas (NOREPLICAS: checked
 *                    before a script's first write), a server still loading, an empty script
 *                    cache (a new primary's: the replay loads it). Safe to send again.
 *   'unknown'        the command may or may not have run: a reconnect failed it (see
 *                    connectRedis), a pipeline was cut by a closing connection (ioredis'
 *                    AbortError), it timed out, the socket broke; or an UnknownOutcomeError.
 *   'full'           Redis at its memory bound (maxmemory, noeviction) refused a write, or a
 *                    script at its first write, before anything was written: final.
 *   'final'          anything else (a script error, a bug): final, nothing to retry.
 */
export function classifyRedisError(err: unknown): 'refused-unrun' | 'unknown' | 'full' | 'final' {
  if (err instanceof UnknownOutcomeError) return 'unknown';
  if (!(err instanceof Error)) return 'final';
  if (/^(READONLY|NOREPLICAS|LOADING|MASTERDOWN|NOSCRIPT)/.test(err.message)) return 'refused-unrun';
  if (err.message.startsWith('OOM ')) return 'full';
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'AbortError') return 'unknown';
  const m = err.message;
  if (m.includes('Connection is closed') || m.includes('Command timed out') || /ECONN|EPIPE|ETIMEDOUT/.test(m)) return 'unknown';
  return 'final';
}

function refusedUnrun(err: unknown): boolean {
  return classifyRedisError(err) === 'refused-unrun';
}

/**
 * Runs `op` again after a transient error (a failover under way) until `budgetMs` has
 * passed; `op` must be safe to repeat. Reads use it directly: a read has no outcome to
 * lose, so it waits out a failover (~3 s) instead of answering 503.
 */
export function retryTransient<T>(op: () => Promise<T>, budgetMs: number = TIMING.readBudgetMs): Promise<T> {
  return retryUntil(Date.now() + budgetMs, op, { backoff: BACKOFF.failover, retryable: isTransient });
}

/** Errors after which the same call may succeed when made again (a failover under way). */
export function isTransient(err: unknown): boolean {
  const kind = classifyRedisError(err);
  return kind === 'unknown' || kind === 'refused-unrun';
}

/**
 * A write's retries ran out: a transient error now means its outcome is unknown for good.
 * Final errors pass through as they are (a full database is answered 507 by the HTTP edge).
 */
function asUnconfirmed(err: unknown): unknown {
  return isTransient(err) ? new UnconfirmedWriteError(`write not confirmed: ${(err as Error).message}`) : err;
}

/**
 * Runs a pipeline whose commands succeed or fail one by one: a transient error of any
 * command (the connection dropped: none of the replies can be trusted) fails the whole of
 * it; any other error reply is handed back in its place.
 */
export async function execSettled(pipeline: ChainableCommander): Promise<[Error | null, unknown][]> {
  const replies = (await pipeline.exec()) ?? [];
  const unknown = replies.find(([err]) => err !== null && isTransient(err))?.[0];
  if (unknown) throw unknown;
  return replies;
}

/** Runs a pipeline; the first command error fails the whole of it. */
export async function execOrThrow(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
