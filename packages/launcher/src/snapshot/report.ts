/**
 * The one line each snapshot attempt ends with, on stdout: what an operator or a log
 * collector reads (progress goes to stderr).
 */
import { SnapshotError } from './errors.js';
import type { Manifest } from './take.js';

export function okLine(where: string, m: Manifest, pruned?: { kept: string[]; removed: string[] }): string {
  const o = m.orders;
  const retention = pruned === undefined ? '' : `; kept ${pruned.kept.length}, removed ${pruned.removed.length === 0 ? 'none' : pruned.removed.join(' ')}`;
  return `snapshot ${where}: ok, ${m.files.length} files, ${o.total} orders (${o.paid} paid), ${o.transactions} checkout transactions; checkouts paused ${m.pauseMs} ms, took ${m.tookMs} ms${retention}`;
}

/** Says whether taking it again may help: a retryable error reaching here has used up its retries. */
export function failedLine(where: string, err: unknown, retries: number): string {
  const kind = err instanceof SnapshotError ? (err.retryable ? `retryable, ${retries} retries used up` : 'final') : 'unexpected';
  return `snapshot ${where}: failed (${kind}): ${(err as Error).message}`;
}
