/**
 * The participant side of a checkout, shared by stock and payment: both keep a ledger of
 * entries (items, users) with an available and a held amount, and apply each step of a
 * checkout transaction at most once. The coordinator (order service) drives the steps:
 *
 *   reserve(T, lines)  moves amounts from available to held, or refuses; replays answer the same
 *   commit(T, lines)   drops T's holds: the amounts are spent
 *   abort(T, lines)    returns T's holds, and leaves a tombstone so a late reserve(T) is refused
 *
 * One internal endpoint takes a batch of mixed steps, so that the steps of many checkouts
 * (new reserves, and the commits and aborts of decided ones) share one request, one Redis
 * round trip and one replica acknowledgement.
 */

/** One entry and the amount a transaction takes from it: [id, amount]. */
export type Line = [id: string, amount: number];

export interface TxStep {
  tx: string;
  lines: Line[];
}

export type ReserveResult =
  | { code: 'OK' }
  | { code: 'ABORTED' }
  /** `line` is the 0-based index of the offending line. */
  | { code: 'UNKNOWN' | 'INSUFFICIENT' | 'BUSY'; line: number };

export type FinishResult = 'OK' | 'CONFLICT' | 'NOT_RESERVED';

export type StepKind = 'reserve' | 'commit' | 'abort';

export interface Step extends TxStep {
  op: StepKind;
}

export type StepResult = ReserveResult | FinishResult;

export interface StepBatch {
  steps: Step[];
}

export const STEPS_PATH = '/tx/steps';

const TX_ID = { type: 'string', pattern: '^[A-Za-z0-9_:-]{1,100}$' } as const;
const ENTRY_ID = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;

/** JSON schema of a step batch, checked at the edge before any handler runs. */
export const STEP_BATCH_SCHEMA = {
  type: 'object',
  required: ['steps'],
  additionalProperties: false,
  properties: {
    steps: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        required: ['op', 'tx', 'lines'],
        additionalProperties: false,
        properties: {
          op: { enum: ['reserve', 'commit', 'abort'] },
          tx: TX_ID,
          lines: {
            type: 'array',
            minItems: 1,
            maxItems: 1_000,
            items: {
              type: 'array',
              minItems: 2,
              maxItems: 2,
              items: [ENTRY_ID, { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }],
            },
          },
        },
      },
    },
  },
} as const;
