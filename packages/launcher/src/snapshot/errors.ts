/**
 * Why a snapshot was not taken or restored. Like Temporal's failures, each says whether
 * taking it again may succeed: the CLI retries the retryable ones (`--retries`), and the
 * others need someone to act first (the message says what).
 */

/** A snapshot that could not be taken or restored as asked; the message says why and what to do. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
  /** Whether the same snapshot, taken again shortly, may succeed as it stands. */
  readonly retryable: boolean = false;
}

/** A passing cause (a primary busy saving, a connection broken by a failover): take it again. */
export class RetryableSnapshotError extends SnapshotError {
  override name = 'RetryableSnapshotError';
  override readonly retryable: boolean = true;
}

/** A group's primary changed between the copies and their check: the copy may hold writes the new primary lacks. */
export class FailedOverError extends RetryableSnapshotError {
  override name = 'FailedOverError';
}

/** A wrong command line (the CLI exits 2, as for any usage error). */
export class UsageError extends SnapshotError {
  override name = 'UsageError';
}

/** Stopped by SIGTERM or SIGINT: nothing was written and the freeze is lifted. */
export class SnapshotAbortedError extends SnapshotError {
  override name = 'SnapshotAbortedError';
}

/** Throws SnapshotAbortedError once `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new SnapshotAbortedError('stopped by a signal: nothing was written');
}
