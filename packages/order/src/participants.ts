import { Batcher } from '../../common/src/batcher.js';
import type { ErrorCode } from '../../common/src/errors.js';
import { InternalClient } from '../../common/src/internal-client.js';
import { PATHS, type FinishResult, type ReserveResult, type TxStep } from '../../common/src/ledger/protocol.js';

/**
 * One participant service (stock or payment) as the coordinator sees it. Steps made in
 * the same event-loop turn travel as one internal request.
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
    this.reserve = batched<ReserveResult>(client, PATHS.reserve);
    this.commit = batched<FinishResult>(client, PATHS.commit);
    this.abort = batched<FinishResult>(client, PATHS.abort);
  }
}

function batched<R>(client: InternalClient, path: string): (step: TxStep) => Promise<R> {
  const batcher = new Batcher<TxStep, R>(async (steps) => {
    const { results } = await client.post<{ results: R[] }>(path, { steps });
    if (results.length !== steps.length) throw new Error(`${path} answered ${results.length} results for ${steps.length} steps`);
    return results;
  });
  return (step) => batcher.call(step);
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
