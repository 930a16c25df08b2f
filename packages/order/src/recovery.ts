import type { Logger } from '../../common/src/log.js';
import type { Coordinator } from './checkout.js';
import type { OrderStore } from './store.js';

export interface RecoveryOptions {
  /** A transaction unfinished this long after it began is presumed orphaned. */
  staleAfterMs: number;
  /** How often each replica looks for orphaned transactions. */
  intervalMs: number;
  /** Lease a replica takes on a transaction it recovers: saves duplicate work, nothing more. */
  leaseMs: number;
}

export const DEFAULT_RECOVERY: RecoveryOptions = { staleAfterMs: 2_000, intervalMs: 500, leaseMs: 3_000 };

/**
 * Finishes checkouts whose driver died (or stalls): every order replica runs this loop.
 *
 * It drives orphaned transactions with the same code as a live checkout, from their record.
 * Correctness never rests on the lease or on the timing: if the original driver is only
 * paused and resumes, both drive the same idempotent steps and adopt the one recorded
 * decision.
 */
export class Recovery {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

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
      const stale = await this.store.stale(this.options.staleAfterMs, 200);
      await Promise.all(
        stale.map(async (txId) => {
          if (!(await this.store.lease(txId, this.owner, this.options.leaseMs))) return;
          const tx = await this.store.load(txId);
          if (tx === undefined) return this.store.forget(txId);
          const outcome = await this.coordinator.drive(tx, Date.now() + this.options.leaseMs);
          this.log.info({ tx: txId, order: tx.orderId, outcome }, 'recovered checkout');
        }),
      );
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'recovery pass interrupted; next pass retries');
    } finally {
      this.running = false;
    }
  }
}
