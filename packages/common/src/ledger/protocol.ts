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

import type { ErrorCode } from '../errors.js';

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
  | { code: 'UNKNOWN' | 'INSUFFICIENT' | 'BUSY'; line: number }
  /** The step itself is malformed or over a limit: refused, nothing changed, and so it will stay. */
  | { code: 'INVALID'; reason: string };

/**
 * The answer to a commit or abort. CONFLICT: T was decided the other way at this participant
 * (never happens for a recorded decision); NOT_RESERVED: a commit of a T that holds nothing
 * here; INVALID: the step is malformed or over a limit, so nothing could ever have been held.
 */
export type ApplyResult = 'OK' | 'CONFLICT' | 'NOT_RESERVED' | 'INVALID';

/**
 * The participant could not run this one step (a script error, a database refusing writes);
 * the other steps of its batch are unaffected. Whether the step ran is unknown to the caller.
 */
export interface StepFailure {
  code: 'FAILED';
  error: string;
}

export type StepKind = 'reserve' | 'commit' | 'abort';

export interface Step extends TxStep {
  op: StepKind;
}

export type StepResult = ReserveResult | ApplyResult | StepFailure;

export interface StepBatch {
  steps: unknown[];
}

export const STEPS_PATH = '/tx/steps';

/**
 * The client-facing codes of each participant's refusals: the one definition, used by the
 * coordinator (votes) and by the participants' own public routes.
 */
export const PARTICIPANT_REFUSALS = {
  stock: { unknown: 'UNKNOWN_ITEM', insufficient: 'OUT_OF_STOCK' },
  payment: { unknown: 'UNKNOWN_USER', insufficient: 'INSUFFICIENT_CREDIT' },
} as const satisfies Record<string, { unknown: ErrorCode; insufficient: ErrorCode }>;

export type ParticipantName = keyof typeof PARTICIPANT_REFUSALS;
export type Refusals = (typeof PARTICIPANT_REFUSALS)[ParticipantName];

/** Lines of one entry each, merged: a transaction holds each entry once. */
export function mergeLines(lines: Iterable<Line>): Line[] {
  const merged = new Map<string, number>();
  for (const [id, amount] of lines) merged.set(id, (merged.get(id) ?? 0) + amount);
  return [...merged];
}

/** Most steps in one batch request: the coordinator's batches are far smaller. */
export const MAX_BATCH_STEPS = 10_000;
/** Most entries one step may touch: an order holds at most this many distinct items. */
export const MAX_STEP_LINES = 1_000;

const TX_ID = /^[A-Za-z0-9_:-]{1,100}$/;
const ENTRY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * JSON schema of a step batch, checked at the edge. It checks only the envelope: each step
 * is checked on its own (`stepProblem`), so that one bad step is refused alone and never
 * fails the other checkouts that share its request.
 */
export const STEP_BATCH_SCHEMA = {
  type: 'object',
  required: ['steps'],
  additionalProperties: false,
  properties: {
    steps: { type: 'array', maxItems: MAX_BATCH_STEPS, items: { type: 'object' } },
  },
} as const;

/** Why a step can never be applied, or undefined when it is well formed and within limits. */
export function stepProblem(step: unknown): string | undefined {
  if (typeof step !== 'object' || step === null) return 'a step must be an object';
  const { op, tx, lines } = step as Record<string, unknown>;
  if (op !== 'reserve' && op !== 'commit' && op !== 'abort') return 'op must be reserve, commit or abort';
  if (typeof tx !== 'string' || !TX_ID.test(tx)) return 'malformed transaction id';
  return linesProblem(lines);
}

/**
 * Lines must name distinct entries (the scripts check each entry against its own amount, so
 * a repeated entry could be over-held) with non-negative safe-integer amounts.
 */
export function linesProblem(lines: unknown): string | undefined {
  if (!Array.isArray(lines) || lines.length === 0) return 'a step needs at least one line';
  if (lines.length > MAX_STEP_LINES) return `a step touches at most ${MAX_STEP_LINES} entries, this one ${lines.length}`;
  // Hot path: every step of every checkout passes here, twice. No Set for the common 1-2 lines.
  const seen = lines.length > 8 ? new Set<string>() : undefined;
  for (let i = 0; i < lines.length; i++) {
    const line: unknown = lines[i];
    if (!Array.isArray(line) || line.length !== 2) return 'a line is [id, amount]';
    const id: unknown = line[0];
    const amount: unknown = line[1];
    if (typeof id !== 'string' || !ENTRY_ID.test(id)) return 'malformed entry id';
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) return `amount of ${id} is not a safe non-negative integer`;
    if (seen === undefined) {
      for (let j = 0; j < i; j++) if ((lines[j] as unknown[])[0] === id) return `entry ${id} is listed twice`;
    } else {
      if (seen.has(id)) return `entry ${id} is listed twice`;
      seen.add(id);
    }
  }
  return undefined;
}
