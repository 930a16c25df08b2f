import type { Redis } from 'ioredis';

/**
 * How many replicas of the primary keep up right now, as the primary itself reports them.
 *
 * A replica keeps up when the primary counts it `online` (initial sync done) and heard its
 * acknowledgement within `maxLagS` seconds (replicas acknowledge every second, and at once
 * on every WAIT). A stopped, restarting or resyncing replica drops out of the count within
 * about two seconds, so writes stop waiting for it.
 *
 * Why it is safe to stop waiting for such a replica: Sentinel never promotes a replica it
 * sees down (a paused or dead one), and among the others it promotes the one with the
 * largest replication offset. Replicas of one primary hold prefixes of the same stream, so
 * the largest offset holds every write that any keeping-up replica acknowledged. A replica
 * restarted from its AOF reports offset 0 until its resync completes (tested in
 * test/e2e/failover.test.ts), so it never outranks one that kept up.
 */
export function countKeepingUp(infoReplication: string, maxLagS = 1): number {
  let count = 0;
  for (const m of infoReplication.matchAll(/^slave\d+:([^\r\n]*)/gm)) {
    const fields = new Map((m[1] ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
    if (fields.get('state') === 'online' && Number(fields.get('lag') ?? Infinity) <= maxLagS) count++;
  }
  return count;
}

/** Polls the primary's view of its replicas; `keepingUp` is undefined until the first answer on a connection. */
export class ReplicaHealth {
  private known: number | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    intervalMs = 250,
  ) {
    // A new connection may be to a new primary with other replicas: forget the old count.
    redis.on('ready', () => {
      this.known = undefined;
    });
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  get keepingUp(): number | undefined {
    return this.known;
  }

  /** Asks the primary now (joining a poll already under way). Never throws. */
  refresh(): Promise<void> {
    if (this.redis.status !== 'ready') return Promise.resolve();
    this.inFlight ??= this.redis
      .info('replication')
      .then(
        (info) => {
          // A replica's INFO has no slave lines: count nothing rather than guess.
          this.known = /^role:master\r?$/m.test(info) ? countKeepingUp(info) : 0;
        },
        () => undefined,
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
