/**
 * Every timing budget of the system, in one table, and the one way to wait between tries.
 *
 * The numbers interact; packages/launcher/test/timing.test.ts pins the relations the design relies on:
 *
 *   gateway, checkout read timeout (6 s)  <  checkout budget (25 s)
 *       On purpose: a checkout stuck on a paused order replica is re-sent by nginx to
 *       another replica, which joins the same transaction; the first driver keeps going.
 *       Shorter than other routes' 10 s: it is the whole stall a paused active order
 *       replica causes, and a checkout, unlike addItem, can be re-sent.
 *   2 x checkout read timeout (two replicas)  >  two failovers back to back
 *       A checkout that waited out one failover on each replica still gets its answer.
 *   4 x checkout read timeout  <  checkout budget
 *       One every replica timed out on goes to the gateway's last resort, each replica
 *       once more (faults back to back can outlast two timeouts): its drivers still run.
 *   2 x internal call timeout (2.5 s)  <  gateway, checkout read timeout
 *       A paused participant replica costs a driver one timeout, then another replica.
 *   hold wait of subtract/pay (20 s)  <  gateway read timeout of those routes (25 s)
 *       The service answers its own 503 before nginx gives up with a 504.
 *   a failover (Sentinel down-after + ~1.3 s)  <  write confirmation, read and write budgets
 *       Reads and writes wait out a failover instead of failing.
 *   recovery: a transaction is stale after 2 s; its lease (3 s) outlasts one internal call.
 */

export const TIMING = {
  gateway: {
    /** nginx waits this long for a replica's answer to an ordinary call. */
    readTimeoutS: 10,
    /** ... and to a checkout, before re-sending it to the other replica (which joins it). */
    checkoutReadTimeoutS: 6,
    /**
     * A replica that failed a call is passed over this long. Long on purpose: with one
     * active replica the standby serves as fast, and a paused active replica costs one
     * read timeout per fail timeout, so a short one let a 12 s pause stall calls twice.
     */
    failTimeoutS: 10,
    /** ... and to a subtract or pay, which may wait for holds (see holdWaitMs). */
    holdRouteReadTimeoutS: 25,
    /** ... and to a batch_init of up to a million entities. */
    batchReadTimeoutS: 120,
    connectTimeoutS: 1,
    /** Replicas a checkout is sent to at most (the first and two re-sends). */
    checkoutTries: 3,
  },
  /** One driver of a checkout keeps trying this long before answering 503 (recovery finishes it). */
  checkoutBudgetMs: 25_000,
  /**
   * A participant commit (after the client's answer) waits this long for reserves to share
   * an internal request with. Its holds stay in `h` meanwhile: a reserve that needs them
   * answers BUSY and waits, never refused for them.
   */
  commitRideMs: 3,
  /** A public subtract/pay waits this long for undecided holds before answering 503. */
  holdWaitMs: 20_000,
  /** A read retries through a failover this long. */
  readBudgetMs: 8_000,
  /** An idempotent write is replayed until confirmed, this long. */
  idempotentWriteBudgetMs: 20_000,
  /** A write that must not be replayed waits this long for a live connection. */
  onceWriteBudgetMs: 10_000,
  /** After this long without the promotable replicas' acknowledgement, a write's outcome is unknown. */
  confirmBudgetMs: 5_000,
  /** A Redis command unanswered this long has an unknown outcome. */
  redisCommandTimeoutMs: 5_000,
  internalCall: {
    /** An internal call unanswered this long has an unknown outcome. */
    timeoutMs: 2_500,
    /** A replica that failed or timed out is passed over this long (see gateway.failTimeoutS). */
    cooldownMs: 10_000,
  },
  recovery: {
    staleAfterMs: 2_000,
    intervalMs: 500,
    leaseMs: 3_000,
    /** After a failed attempt: firstMs, doubling per failure up to maxMs; parked after parkAfter. */
    retry: { firstMs: 500, maxMs: 60_000, parkAfter: 5 },
  },
} as const;

/** How long to wait before try `attempt` (1-based) of a retry loop. */
export type Backoff = (attempt: number) => number;

/** The waits of each kind of retry loop. */
export const BACKOFF = {
  /** Reads and idempotent replays through a failover: 20, 40 … 250 ms. */
  failover: (attempt) => Math.min(20 * attempt, 250),
  /** A write Redis refused unrun (READONLY during a failover): 50, 100 … 250 ms. */
  refusedUnrun: (attempt) => Math.min(50 * attempt, 250),
  /**
   * A checkout step waiting for other checkouts (BUSY) or replaying an unknown outcome:
   * 1, 2, 4 … 64 ms, with jitter so waiting checkouts do not retry in lockstep.
   */
  checkoutStep: (attempt) => {
    const base = Math.min(2 ** (attempt - 1), 64);
    return base / 2 + Math.random() * base;
  },
  /** A new checkout waiting for a snapshot to mark its point (tens of ms): 2, 4 … 10 ms. */
  snapshotFreeze: (attempt) => Math.min(2 * attempt, 10),
  /** A public subtract/pay waiting for holds: 3, 5 … 50 ms. */
  holdWait: (attempt) => Math.min(1 + attempt * 2, 50),
} as const satisfies Record<string, Backoff>;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A background loop started by `runEvery`; `stop` resolves once its current run has ended. */
export interface BackgroundLoop {
  stop(): Promise<void>;
}

/**
 * Runs `step` again `intervalMs` after each run ends, until stopped. A run that throws is
 * handed to `onError` and the loop goes on: the next run starts again from what it finds.
 */
export function runEvery(intervalMs: number, step: () => Promise<void>, onError: (err: Error) => void): BackgroundLoop {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        await step();
      } catch (err) {
        onError(err as Error);
      }
      await sleep(intervalMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * Calls `op` until it returns a value `done` accepts (any value, without `done`), waiting
 * `backoff(attempt)` between tries. An error `retryable` accepts is tried again too; any
 * other error is thrown at once. Past `deadline`, `onDeadline()` is thrown (by default, the
 * last error, or an Error for a value that was never done).
 */
export async function retryUntil<T>(
  deadline: number,
  op: () => Promise<T>,
  policy: {
    backoff: Backoff;
    retryable?: (err: unknown) => boolean;
    done?: (value: T) => boolean;
    onDeadline?: () => Error;
  },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let value: T;
    try {
      value = await op();
    } catch (err) {
      if (!(policy.retryable?.(err) ?? false)) throw err;
      if (Date.now() > deadline) throw policy.onDeadline?.() ?? err;
      await sleep(policy.backoff(attempt));
      continue;
    }
    if (policy.done === undefined || policy.done(value)) return value;
    if (Date.now() > deadline) throw policy.onDeadline?.() ?? new Error('still not done at the deadline');
    await sleep(policy.backoff(attempt));
  }
}
