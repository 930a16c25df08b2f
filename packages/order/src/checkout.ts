/**
 * The checkout protocol: the order service coordinates stock and payment.
 *
 * A checkout of an order runs as one transaction T with a record in the order's Redis
 * (`otx:<T>`). Every step is idempotent and every decision is recorded once, so any number
 * of drivers (the first request, a retried or re-sent request on another replica,
 * recovery) may run the same T at the same time, or one after another after a crash, and
 * all reach the same outcome:
 *
 *   begin     order unpaid, no T active: open T, snapshot user, total and lines into its
 *             record, mark the order "being checked out" (addItem refused from here on).
 *             T already active: drive that T instead. Order paid: answer 200 at once.
 *   reserve   stock holds every line and payment holds the total. A participant that
 *             lacks the amount only because of holds of undecided transactions answers
 *             BUSY and we wait and ask again: a refusal is then one that every serial
 *             order of the checkouts would give (contention is not failure). Waits go
 *             stock first, payment second, for every T: a T waiting for credit may hold
 *             stock, but a T waiting for stock holds no credit, so waits cannot form a
 *             cycle. The driver that opened T asks both at once (one round trip fewer);
 *             if stock is BUSY while payment held, it must not wait so: it decides abort
 *             with the internal reason RETRY_IN_ORDER (holds returned as for any abort)
 *             and checks the order out again as a new T, asking in turn. Every other
 *             driver (a re-sent request, recovery) asks in turn from the start.
 *   decide    commit once both hold, abort on the first refusal: the first decision
 *             recorded wins and is adopted by every other driver. A commit sets the
 *             order's paid flag in the same script: that is the commit point.
 *   apply     commit: both participants drop T's holds (the amounts were already taken
 *             from the available stock and credit at reserve, so every read after the
 *             decision shows the checkout: we answer 200 before this step).
 *             abort: both participants return T's holds and keep a tombstone that
 *             refuses a late reserve of T; we answer 4xx only after both did.
 *   finish    T leaves the set of unfinished transactions.
 *
 * A driver that dies anywhere leaves T in the unfinished set; recovery drives it again
 * from its record (see recovery.ts). An unknown outcome of any call (timeout, lost
 * connection, write no replica confirmed) is resolved by repeating the step.
 *
 * A step that no participant could ever apply (over a limit, malformed: ledger/protocol.ts
 * `linesProblem`) is a business refusal of its own checkout, ORDER_TOO_LARGE: it is never
 * sent, and a participant that finds one answers INVALID for that step alone. Such a
 * checkout holds nothing anywhere, so its abort has nothing to undo.
 */
import { randomUUID } from 'node:crypto';
import { ShopError, isErrorCode, type ErrorCode } from '@shop/common/errors.js';
import { linesProblem, mergeLines, type ApplyResult, type TxStep } from '@shop/common/ledger/protocol.js';
import type { Logger } from '@shop/common/log.js';
import { isTransient } from '@shop/common/redis.js';
import { BACKOFF, TIMING, retryUntil } from '@shop/common/timing.js';
import type { CoordinatedParticipants, StepPort } from './participants.js';
import type { OrderShards } from './shards.js';
import type { Decision, TxRecord } from './store.js';

export type Outcome = { kind: 'committed'; alreadyPaid: boolean } | { kind: 'refused'; code: ErrorCode };

/**
 * The reason of an abort decided only to ask again in turn (see the top comment): never
 * answered to a client, whose driver checks the order out again instead.
 */
export const RETRY_IN_ORDER = 'RETRY_IN_ORDER';

export interface DriveOptions {
  /** A client waits for this driver: crash points fire, and RETRY_IN_ORDER checks out again. */
  client?: boolean;
  /** Resolve only once T is retired (recovery must learn whether it was). */
  untilFinished?: boolean;
  /** Ask stock and payment at once on the first try (only the driver that opened T). */
  parallel?: boolean;
}

/** Named steps at which a test can make the coordinator die (SHOP_CRASH_POINT). */
export const CRASH_POINTS = [
  'after-begin',
  'after-stock-reserve',
  'after-payment-reserve',
  'after-decide',
  'after-stock-apply',
  'after-apply',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export interface CoordinatorOptions {
  crashPoint?: string | undefined;
  /** How long one driver keeps retrying before it answers 503 and leaves T to recovery. */
  budgetMs?: number;
  /** Told of every BUSY answer (a wait for other checkouts' holds): counted in the metrics. */
  onBusy?: (participant: 'stock' | 'payment') => void;
}

export class Coordinator {
  private readonly budgetMs: number;

  constructor(
    private readonly store: OrderShards,
    private readonly participants: CoordinatedParticipants,
    private readonly log: Logger,
    private readonly options: CoordinatorOptions = {},
  ) {
    this.budgetMs = options.budgetMs ?? TIMING.checkoutBudgetMs;
  }

  /**
   * Checks out an order: the outcome is final when this resolves. `inOrder`: ask the
   * participants in turn from the start (a check-out again after RETRY_IN_ORDER).
   */
  async checkout(orderId: string, deadline = Date.now() + this.budgetMs, inOrder = false): Promise<Outcome> {
    const newTxId = randomUUID();
    // A snapshot holds new transactions back only while the unfinished ones end: wait.
    const begun = await retryUntil(deadline, () => this.store.begin(orderId, newTxId), {
      backoff: BACKOFF.snapshotFreeze,
      done: (b) => b.kind !== 'FROZEN',
      onDeadline: () => new ShopError('UNAVAILABLE', 'a snapshot held new checkouts back; retry'),
    });
    switch (begun.kind) {
      case 'PAID':
        return { kind: 'committed', alreadyPaid: true };
      case 'NO_ORDER':
        return { kind: 'refused', code: 'UNKNOWN_ORDER' };
      case 'EMPTY':
        return { kind: 'refused', code: 'EMPTY_ORDER' };
      case 'FROZEN': // retryUntil returns only a result that is done
        throw new ShopError('UNAVAILABLE', 'a snapshot held new checkouts back; retry');
      case 'TX':
        this.crashAt('after-begin', true);
        return this.drive(begun.tx, deadline, { client: true, parallel: !inOrder && begun.tx.id === newTxId });
    }
  }

  /**
   * Runs T from whatever state its record shows to its outcome. Resolves once the outcome
   * is final for clients; the commit's apply and finish steps may still be running, unless
   * `untilFinished`.
   */
  async drive(tx: TxRecord, deadline: number, options: DriveOptions = {}): Promise<Outcome> {
    const { client = false, untilFinished = false, parallel = false } = options;
    // Crash points fire only on a client's request, never in recovery: a test's one crash
    // must not turn into a crash loop of every replica that recovers the transaction.
    const crash = (point: CrashPoint) => this.crashAt(point, client);
    const steps = stepsOf(tx);
    let decision = tx.decision === '' ? undefined : { decision: tx.decision, reason: tx.reason };
    if (decision === undefined) {
      // A step no participant could apply is refused before anything is asked anywhere.
      const tooLarge = linesProblem(steps.stock.lines) !== undefined || linesProblem(steps.payment.lines) !== undefined;
      const vote = tooLarge ? 'ORDER_TOO_LARGE' : parallel ? await this.voteAtOnce(steps, deadline, crash) : await this.vote(steps, deadline, crash);
      decision = await this.store.decide(tx, vote === 'commit' ? 'commit' : 'abort', vote === 'commit' ? '' : vote);
      crash('after-decide');
    }
    if (decision.decision === 'commit') {
      if (untilFinished) {
        await this.apply(tx, steps, 'commit', deadline, crash);
        return { kind: 'committed', alreadyPaid: false };
      }
      this.apply(tx, steps, 'commit', deadline, crash).catch((err: unknown) => {
        this.log.warn({ tx: tx.id, err: (err as Error).message }, 'commit not yet applied; recovery will finish it');
      });
      return { kind: 'committed', alreadyPaid: false };
    }
    await this.apply(tx, steps, 'abort', deadline, crash);
    if (decision.reason === RETRY_IN_ORDER) {
      // Nobody was refused: a waiting client gets the outcome of a new T, asked in turn.
      if (client) return this.checkout(tx.orderId, deadline, true);
      return { kind: 'refused', code: 'UNAVAILABLE' }; // recovery: nobody waits for it; only logged
    }
    return { kind: 'refused', code: isErrorCode(decision.reason) ? decision.reason : 'OUT_OF_STOCK' };
  }

  /** Reserve at stock, then at payment: 'commit' when both hold, else the refusal's code. */
  private async vote(steps: Steps, deadline: number, crash: (p: CrashPoint) => void): Promise<'commit' | ErrorCode> {
    const { stock, payment } = this.participants;
    const stockVote = await this.reserve(stock, steps.stock, deadline);
    if (stockVote !== 'OK') return stockVote;
    crash('after-stock-reserve');
    const paymentVote = await this.reserve(payment, steps.payment, deadline);
    if (paymentVote !== 'OK') return paymentVote;
    crash('after-payment-reserve');
    return 'commit';
  }

  /**
   * Reserve at both at once. A refusal of either decides (stock's first, as in turn). While
   * stock is BUSY, holding credit is not allowed: RETRY_IN_ORDER if payment held, else
   * (nothing held) the vote in turn. Stock held and payment BUSY is the order's own wait.
   */
  private async voteAtOnce(steps: Steps, deadline: number, crash: (p: CrashPoint) => void): Promise<'commit' | ErrorCode | typeof RETRY_IN_ORDER> {
    const { stock, payment } = this.participants;
    const [stockVote, paymentVote] = await Promise.all([
      this.reserve(stock, steps.stock, deadline, false),
      this.reserve(payment, steps.payment, deadline, false),
    ]);
    if (stockVote !== 'OK' && stockVote !== 'BUSY') return stockVote;
    if (paymentVote !== 'OK' && paymentVote !== 'BUSY') return paymentVote;
    if (stockVote === 'BUSY') {
      if (paymentVote === 'OK') return RETRY_IN_ORDER;
      return await this.vote(steps, deadline, crash); // nothing held: wait in turn
    }
    crash('after-stock-reserve');
    const held = paymentVote === 'OK' ? 'OK' : await this.reserve(payment, steps.payment, deadline);
    if (held !== 'OK') return held;
    crash('after-payment-reserve');
    return 'commit';
  }

  /** A participant's vote on T's step; waits while BUSY unless `wait` is false (then answers 'BUSY'). */
  private async reserve(participant: StepPort, step: TxStep, deadline: number, wait: false): Promise<'OK' | 'BUSY' | ErrorCode>;
  private async reserve(participant: StepPort, step: TxStep, deadline: number, wait?: true): Promise<'OK' | ErrorCode>;
  private async reserve(participant: StepPort, step: TxStep, deadline: number, wait = true): Promise<'OK' | 'BUSY' | ErrorCode> {
    // BUSY: only undecided holds of other checkouts stand in the way; wait for them.
    const name = participant === this.participants.stock ? 'stock' : 'payment';
    const ask = async () => {
      const r = await this.retrying(() => participant.reserve(step), deadline);
      if (r.code === 'BUSY') this.options.onBusy?.(name);
      return r;
    };
    const result = await retryUntil(deadline, ask, {
      backoff: BACKOFF.checkoutStep,
      done: (r) => !wait || r.code !== 'BUSY',
      onDeadline: () => new ShopError('UNAVAILABLE', 'checkout still waiting for other checkouts'),
    });
    switch (result.code) {
      case 'OK':
        return 'OK';
      case 'UNKNOWN':
        return participant.codes.unknown;
      case 'INSUFFICIENT':
        return participant.codes.insufficient;
      case 'BUSY': // only when not waiting: retryUntil returns only a result that is done; contention is not a refusal
        if (!wait) return 'BUSY';
        throw new ShopError('UNAVAILABLE', 'checkout still waiting for other checkouts');
      case 'ABORTED':
        // Another driver decided abort; decide() will hand us its reason.
        return participant.codes.insufficient;
      case 'INVALID':
        return 'ORDER_TOO_LARGE';
    }
  }

  /** Applies a decision at both participants, then retires T. */
  private async apply(tx: TxRecord, steps: Steps, decision: Decision, deadline: number, crash: (p: CrashPoint) => void): Promise<void> {
    const { stock, payment } = this.participants;
    const txId = tx.id;
    const stockResult = await this.applyAt(stock, decision, steps.stock, deadline);
    crash('after-stock-apply');
    const paymentResult = await this.applyAt(payment, decision, steps.payment, deadline);
    if (stockResult !== 'OK' || paymentResult !== 'OK') {
      // Only possible if a participant lost data it had acknowledged: keep T unfinished
      // and loud, never paper over it.
      this.log.error({ tx: txId, decision, stockResult, paymentResult }, 'participant refused to apply a decision');
      throw new Error(`participants refused to ${decision} ${txId}`);
    }
    crash('after-apply');
    await this.retrying(() => this.store.finish(tx), deadline);
  }

  /**
   * Applies a decision at one participant. An abort of a step that could never hold anything
   * is done at once (a commit implies both reserves held, so its steps were valid).
   */
  private async applyAt(participant: StepPort, decision: Decision, step: TxStep, deadline: number): Promise<ApplyResult> {
    if (decision === 'abort' && linesProblem(step.lines) !== undefined) return 'OK';
    const result = await this.retrying(() => participant[decision](step), deadline);
    return result === 'INVALID' && decision === 'abort' ? 'OK' : result;
  }

  /** Repeats a call whose outcome is unknown (or that was refused unrun); every step it is used for is idempotent. */
  private retrying<T>(call: () => Promise<T>, deadline: number): Promise<T> {
    return retryUntil(deadline, call, {
      backoff: BACKOFF.checkoutStep,
      retryable: isTransient,
      onDeadline: () => new ShopError('UNAVAILABLE', 'checkout outcome not yet known; retry to learn it'),
    });
  }

  private crashAt(point: CrashPoint, armed: boolean): void {
    if (armed && this.options.crashPoint === point) {
      this.log.fatal({ point }, 'crash point reached: exiting as a test asked');
      process.kill(process.pid, 'SIGKILL');
    }
  }
}

/** T's step at each participant: every line (merged) at stock, the total at payment. */
interface Steps {
  stock: TxStep;
  payment: TxStep;
}

/** Built once per drive: votes and the applying of the decision send the same steps. */
function stepsOf(tx: TxRecord): Steps {
  return { stock: { tx: tx.id, lines: mergeLines(tx.lines) }, payment: { tx: tx.id, lines: [[tx.userId, tx.amount]] } };
}
