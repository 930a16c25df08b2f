import { Batcher } from '../../common/src/batcher.js';
import type { ErrorCode } from '../../common/src/errors.js';
import { InternalClient } from '../../common/src/internal-client.js';
import {
  STEPS_PATH,
  type FinishResult,
  type ReserveResult,
  type Step,
  type StepResult,
  type TxStep,
} from '../../common/src/ledger/protocol.js';

/**
 * One participant service (stock or payment) as the coordinator sees it. All steps made in
 * the same event-loop turn (reserves of new checkouts, commits and aborts of decided ones)
 * travel as one internal request.
 */
export class Participant {
  readonly reserve: (step: TxStep) => Promise<ReserveResult>;
  readonly commit: (step: TxStep) => Promise<FinishResult>;
  readonly abort: (step: TxStep) => Promise<FinishResult>;

  constructor(
    readonly name: 'stock' | 'payment',
    readonly client: InternalClient,
    /** Error codes of this participant's refusals, as answered to the client. */
    readonly codes: { unknown: ErrorCode; insufficient: ErrorCode },
  ) {
    const batcher = new Batcher<Step, StepResult>(async (steps) => {
      const { results } = await client.post<{ results: StepResult[] }>(STEPS_PATH, { steps });
      if (results.length !== steps.length) throw new Error(`${name} answered ${results.length} results for ${steps.length} steps`);
      return results;
    });
    this.reserve = (step) => batcher.call({ ...step, op: 'reserve' }) as Promise<ReserveResult>;
    this.commit = (step) => batcher.call({ ...step, op: 'commit' }) as Promise<FinishResult>;
    this.abort = (step) => batcher.call({ ...step, op: 'abort' }) as Promise<FinishResult>;
  }
}

export function createParticipants(stockUrls: string[], paymentUrls: string[], secret: string) {
  return {
    stock: new Participant('stock', new InternalClient(stockUrls, secret), { unknown: 'UNKNOWN_ITEM', insufficient: 'OUT_OF_STOCK' }),
    payment: new Participant('payment', new InternalClient(paymentUrls, secret), {
      unknown: 'UNKNOWN_USER',
      insufficient: 'INSUFFICIENT_CREDIT',
    }),
  };
}
export type Participants = ReturnType<typeof createParticipants>;
