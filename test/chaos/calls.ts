/**
 * One API call as a chaos client makes it: an indeterminate answer (5xx, a dropped
 * connection, no answer in time) tells nothing about the outcome, so idempotent calls are
 * repeated until they get a definite one; every attempt is kept for the history.
 */
import type { ShopClient } from '@shop/launcher/api.js';
import type { Attempt, Clock, Definite, IndeterminateKind } from './history.js';
import type { Prng } from './prng.js';

export interface CallPolicy {
  /** Repeat after an indeterminate answer (only for calls that are idempotent). */
  retry: boolean;
  /** Stop repeating after this long; the call then has no definite answer. */
  giveUpMs: number;
  /**
   * An attempt without an answer after this long counts as a timeout. Above the gateway's
   * worst case for a checkout (3 replicas tried, 10 s each) so that nginx, not we, decides.
   */
  attemptTimeoutMs: number;
}

export const CHECKOUT_POLICY: CallPolicy = { retry: true, giveUpMs: 120_000, attemptTimeoutMs: 40_000 };
export const ONCE_POLICY: CallPolicy = { retry: false, giveUpMs: 0, attemptTimeoutMs: 40_000 };

export interface CallResult {
  attempts: Attempt[];
  final: Definite | undefined;
  /** Body of the definite answer. */
  body: Record<string, unknown> | undefined;
}

class AttemptTimeout extends Error {
  override name = 'AttemptTimeout';
}

function statusKind(status: number): IndeterminateKind {
  return status === 500 || status === 502 || status === 503 || status === 504 ? (String(status) as IndeterminateKind) : 'other';
}

function errorKind(err: unknown): IndeterminateKind {
  if (err instanceof AttemptTimeout) return 'timeout';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.includes('TIMEOUT')) return 'timeout';
  return 'reset';
}

export async function callUntilDefinite(
  api: ShopClient,
  method: 'GET' | 'POST',
  path: string,
  policy: CallPolicy,
  clock: Clock,
  rng: Prng,
): Promise<CallResult> {
  const attempts: Attempt[] = [];
  const begin = clock.now();
  for (let n = 0; ; n++) {
    const start = clock.now();
    let timer: NodeJS.Timeout | undefined;
    const answer = api.call(method, path);
    // The losing side of the race below still settles later; it must not go unhandled.
    answer.catch(() => undefined);
    try {
      const a = await Promise.race([
        answer,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new AttemptTimeout(`no answer in ${policy.attemptTimeoutMs} ms`)), policy.attemptTimeoutMs);
        }),
      ]);
      const code = typeof a.body.code === 'string' ? a.body.code : undefined;
      const attempt: Attempt = { start, end: clock.now(), status: a.status, ...(code !== undefined ? { code } : {}) };
      if (a.status < 500) {
        attempts.push(attempt);
        return { attempts, final: { status: a.status, ...(code !== undefined ? { code } : {}) }, body: a.body };
      }
      attempts.push({ ...attempt, indeterminate: statusKind(a.status) });
    } catch (err) {
      attempts.push({ start, end: clock.now(), indeterminate: errorKind(err) });
    } finally {
      clearTimeout(timer);
    }
    if (!policy.retry || clock.now() - begin > policy.giveUpMs) return { attempts, final: undefined, body: undefined };
    // Back off so that a dead replica is not hammered, with jitter so retries do not align.
    await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** n, 2000) * (0.5 + rng.next())));
  }
}
