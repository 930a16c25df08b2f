import type { Logger } from '@shop/common/log.js';
import { TIMING } from '@shop/common/timing.js';
import type { Coordinator } from './checkout.js';
import type { OrderStore } from './store.js';

export interface RecoveryOptions {
  /** A transaction unfinished this long after it began is presumed orphaned. */
  staleAfterMs: number;
  /** How often each replica looks for orphaned transactions. */
  intervalMs: number;
  /** Lease a replica takes on a transaction it recovers: saves duplicate work, nothing more. */
  leaseMs: number;
  /** Most transactions one pass takes up (oldest first). */
  pageSize: number;
  /** After a failed attempt, a transaction waits firstMs, doubling per failure up to maxMs. */
  retry: { firstMs: number; maxMs: number; parkAfter: number };
}

export const DEFAULT_RECOVERY: RecoveryOptions = { ...TIMING.recovery, pageSize: 200 };

/**
 * Finishes checkouts whose driver died (or stalls): every order replica runs this loop.
 *
 * It drives orphaned transactions with the same code as a live checkout, from their record.
 * Correctness never rests on the lease or on the timing: if the original driver is only
 * paused and resumes, both drive the same idempotent steps and adopt the one recorded
 * decision.
 *
 * Fairness: a pass takes the oldest stale transactions, and each one that fails is pushed
 * back (checkout_defer.lua), so no set of failing transactions can keep newer ones from
 * being finished. One that fails `parkAfter` times is parked: logged once at error level,
 * counted in the metrics, and still tried, about once a minute.
 */
export class Recovery {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Transactions this replica is driving to their end now (a metric). */
  inProgress = 0;

  constructor(
    private readonly store: OrderStore,
    private readonly coordinator: Coordinator,
    private readonly owner: string,
    private readonly log: Logger,
    private readonly options: RecoveryOptions = DEFAULT_RECOVERY,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass: drive every stale transaction this replica can lease. Resolves when done. */
  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const stale = await this.store.stale(this.options.staleAfterMs, this.options.pageSize);
      await Promise.all(stale.map((txId) => this.recover(txId)));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'recovery pass interrupted; next pass retries');
    } finally {
      this.running = false;
    }
  }

  private async recover(txId: string): Promise<void> {
    let leased = false;
    try {
      if (!(await this.store.lease(txId, this.owner, this.options.leaseMs))) return;
      leased = true;
      this.inProgress++;
      const tx = await this.store.load(txId);
      // Its record vanished: finishing drops it from the unfinished and parked sets.
      if (tx === undefined) return await this.store.finish(txId);
      const outcome = await this.coordinator.drive(tx, Date.now() + this.options.leaseMs, { untilFinished: true });
      this.log.info({ tx: txId, order: tx.orderId, outcome }, 'recovered checkout');
    } catch (err) {
      await this.deferAfter(txId, err as Error);
    } finally {
      if (leased) this.inProgress--;
    }
  }

  private async deferAfter(txId: string, err: Error): Promise<void> {
    try {
      const { staleAfterMs, retry } = this.options;
      const failures = await this.store.defer(txId, staleAfterMs, retry);
      if (failures === retry.parkAfter) {
        this.log.error({ tx: txId, failures, err: err.message }, 'checkout transaction parked: recovery keeps failing; retried about once a minute');
      } else if (failures > 0 && failures < retry.parkAfter) {
        this.log.warn({ tx: txId, failures, err: err.message }, 'recovery attempt failed; retried later');
      }
    } catch {
      // Unrecorded: the transaction is simply taken up again on the next pass.
    }
  }
}
