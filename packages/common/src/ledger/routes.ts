import type { FastifyInstance } from 'fastify';
import type { BatchObserver } from '../batcher.js';
import { ShopError } from '../errors.js';
import { route, type ServiceApps } from '../http.js';
import { BACKOFF, TIMING, retryUntil } from '../timing.js';
import { parseAmount, parseId } from '../validate.js';
import { MAX_BATCH_STEPS, STEP_BATCH_SCHEMA, STEPS_PATH, stepProblem, type Refusals, type Step, type StepBatch, type StepResult } from './protocol.js';
import type { Ledger } from './sharded.js';

/**
 * The participant steps of a checkout, on the internal surface: over the frame channel (the
 * order service's way, see frames/client.ts) and as POST STEPS_PATH (its fallback, and tools).
 * Both take `{steps: [...]}` and answer `{results: [...]}`, one result per step, in order.
 */
export function registerLedgerSteps(apps: Pick<ServiceApps, 'internal' | 'serveFrames'>, store: Ledger, observeBatch: BatchObserver = () => undefined): void {
  const answer = async (steps: readonly unknown[]): Promise<{ results: StepResult[] }> => {
    observeBatch('steps', steps.length);
    return { results: await applyEach(store, steps) };
  };
  apps.internal.post<{ Body: StepBatch }>(STEPS_PATH, { schema: { body: STEP_BATCH_SCHEMA } }, (req) => answer(req.body.steps));
  apps.serveFrames(STEPS_PATH, async (body) => {
    const steps = (body as Partial<StepBatch> | null)?.steps;
    // The HTTP route's schema, by hand (each step is checked on its own by applyEach).
    if (!Array.isArray(steps) || steps.length > MAX_BATCH_STEPS) throw new Error(`a frame of steps needs a list of at most ${MAX_BATCH_STEPS} steps`);
    return answer(steps);
  });
}

/**
 * Checks each step on its own and applies the well-formed ones as one batch: a malformed
 * or oversized step is answered INVALID and never fails another step of its request.
 */
export async function applyEach(store: Ledger, raw: readonly unknown[]): Promise<StepResult[]> {
  const results = new Array<StepResult>(raw.length);
  const valid: Step[] = [];
  const at: number[] = [];
  raw.forEach((step, i) => {
    const problem = stepProblem(step);
    if (problem === undefined) {
      valid.push(step as Step);
      at.push(i);
    } else {
      results[i] = invalidResult(step, problem);
    }
  });
  if (valid.length > 0) {
    const applied = await store.apply(valid);
    applied.forEach((result, k) => {
      results[at[k]!] = result;
    });
  }
  return results;
}

function invalidResult(step: unknown, reason: string): StepResult {
  return (step as { op?: unknown } | null)?.op === 'reserve' ? { code: 'INVALID', reason } : 'INVALID';
}

/**
 * Public add/subtract of one entry. A subtract that fails only because undecided checkouts
 * hold part of the amount waits for them (contention is not failure) instead of refusing.
 */
export async function adjustEntry(
  store: Ledger,
  codes: Refusals,
  id: string,
  sign: '+' | '-',
  amount: number,
): Promise<number> {
  const result = await retryUntil(Date.now() + TIMING.holdWaitMs, () => store.adjust(id, sign, amount), {
    backoff: BACKOFF.holdWait,
    done: (r) => r.code !== 'BUSY',
    onDeadline: () => new ShopError('UNAVAILABLE', 'checkouts in flight hold this amount; try again'),
  });
  switch (result.code) {
    case 'OK':
      return result.available;
    case 'BUSY': // retryUntil returns only a result that is done
      throw new ShopError('UNAVAILABLE');
    case 'UNKNOWN':
      throw new ShopError(codes.unknown);
    case 'INSUFFICIENT':
      throw new ShopError(codes.insufficient);
    case 'TOO_LARGE':
      throw new ShopError('TOO_LARGE');
  }
}

/** How a participant names its entries and amounts on the public API. */
export interface AdjustRoutes {
  /** Path and direction of each route, e.g. [['/add', '+'], ['/subtract', '-']]. */
  paths: readonly (readonly [string, '+' | '-'])[];
  /** Path parameter and JSON key of the entry id, e.g. 'item_id'. */
  idKey: string;
  /** JSON key of the new available amount, e.g. 'stock'. */
  amountKey: string;
}

/** Public `POST <path>/:<idKey>/:amount` routes answering `{<idKey>: id, <amountKey>: new amount}`. */
export function registerAdjustRoutes(app: FastifyInstance, store: Ledger, codes: Refusals, spec: AdjustRoutes): void {
  for (const [path, sign] of spec.paths) {
    route(app, 'POST', `${path}/:${spec.idKey}/:amount`, async (req) => {
      const params = req.params as Record<string, string>;
      const id = parseId(params[spec.idKey]);
      const amount = parseAmount(params.amount);
      return { [spec.idKey]: id, [spec.amountKey]: await adjustEntry(store, codes, id, sign, amount) };
    });
  }
}
