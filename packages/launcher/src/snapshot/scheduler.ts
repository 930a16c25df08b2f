/**
 * Snapshots into a root of `<UTC stamp>/` directories: one (`--stamp`), or one on every slot
 * of a period (`--every`) until the signal, the newest `--keep` complete ones kept. Each
 * attempt ends in one line (report.ts). A failed attempt (after its retries) is reported and
 * the next slot tries again. A stop during a snapshot abandons it (take.ts lifts the freeze
 * and removes its partial directory); a stop between snapshots ends the wait at once.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapshotAbortedError } from './errors.js';
import { failedLine, okLine } from './report.js';
import { prune } from './retention.js';
import { nextSlot, stampOf } from './schedule.js';
import type { Manifest } from './take.js';

export interface StampedOptions {
  root: string;
  /** Complete snapshots to keep after each new one; undefined: all. */
  keep: number | undefined;
  /** Retries the take makes (for the report line). */
  retries: number;
  /** Takes one snapshot into a new directory, with its retries. */
  take: (dir: string) => Promise<Manifest>;
  report: (line: string) => void;
  now?: () => number;
}

/** One snapshot into `<root>/<stamp>/`, then the retention; whether it was taken. Rethrows only a stop. */
export async function snapshotInto(o: StampedOptions): Promise<boolean> {
  const name = stampOf(new Date((o.now ?? Date.now)()));
  try {
    const manifest = await o.take(path.join(o.root, name));
    o.report(okLine(name, manifest, o.keep === undefined ? undefined : prune(o.root, o.keep)));
    return true;
  } catch (err) {
    if (err instanceof SnapshotAbortedError) throw err;
    o.report(failedLine(name, err, o.retries));
    return false;
  }
}

/** snapshotInto on every slot of the period until `signal`; how many were taken and failed. */
export async function runSchedule(o: StampedOptions & { periodMs: number; signal: AbortSignal }): Promise<{ taken: number; failed: number }> {
  const now = o.now ?? Date.now;
  const start = now();
  const counts = { taken: 0, failed: 0 };
  while (!o.signal.aborted) {
    try {
      if (await snapshotInto(o)) counts.taken++;
      else counts.failed++;
    } catch (err) {
      if (err instanceof SnapshotAbortedError) break;
      throw err;
    }
    // Rejects on the stop: the loop's condition then ends it.
    await sleep(nextSlot(start, o.periodMs, now()) - now(), undefined, { signal: o.signal }).catch(() => undefined);
  }
  return counts;
}
