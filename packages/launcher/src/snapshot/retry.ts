/**
 * Retries of a snapshot that failed for a passing cause (errors.ts: `retryable`, such as a
 * failover during it), a bounded number of times with a doubling pause: 1 s, 2 s, 4 s, at
 * most 10 s (a failover settles within a few seconds: down-after 1 s, failover timeout 3 s).
 * A final error is thrown at once, and the last retryable one once the retries are used up.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapshotError, throwIfAborted } from './errors.js';

export interface RetryOptions {
  retries: number;
  /** The first pause, doubled after each retry (default 1 s). */
  backoffMs?: number;
  /** Stops the retries, and a pause at once (SnapshotAbortedError). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

const MAX_BACKOFF_MS = 10_000;

export async function withRetries<T>(attempt: () => Promise<T>, o: RetryOptions): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      throwIfAborted(o.signal);
      if (!(err instanceof SnapshotError) || !err.retryable || retry >= o.retries) throw err;
      const pause = Math.min(MAX_BACKOFF_MS, (o.backoffMs ?? 1_000) * 2 ** retry);
      o.log?.(`${err.message}; retry ${retry + 1} of ${o.retries} in ${pause} ms`);
      await sleep(pause, undefined, { signal: o.signal }).catch(() => throwIfAborted(o.signal));
    }
  }
}
