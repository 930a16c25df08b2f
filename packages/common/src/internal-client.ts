import { Pool } from 'undici';
import { UnknownOutcomeError } from './errors.js';
import { TIMING } from './timing.js';

export const SECRET_HEADER = 'x-internal-secret';

/** A 4xx answer of an internal endpoint: the call was understood and refused. */
export class InternalCallError extends Error {
  override name = 'InternalCallError';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`internal call answered ${status}: ${body.slice(0, 200)}`);
  }
}

export interface InternalClientOptions {
  /** How long one call may wait for an answer before its outcome counts as unknown. */
  timeoutMs?: number;
  /** How long a replica that failed or timed out is passed over. */
  cooldownMs?: number;
  connections?: number;
}

interface Replica {
  pool: Pool;
  /** Passed over until this time (ms) after a failure. */
  downUntil: number;
}

/**
 * Calls the internal API of one service's replicas over keep-alive pools: always the first
 * replica that is not cooling down, the others standing by. One busy replica per service
 * means the steps of every caller meet in one process and one Redis pipeline: in bench (b),
 * round-robin over two replicas (here and in nginx) cost 1.5-1.8x the CPU per checkout of
 * one active replica (docs/measurements.md, "One active replica per service").
 *
 * A replica that fails or does not answer in time is passed over for a cooldown, so a
 * paused or dead replica costs one timeout, not one per call. A refused connection moves
 * on to the next replica at once (the request never arrived). Any failure after the request
 * may have arrived is an unknown outcome (UnknownOutcomeError): callers resolve it by
 * replaying, which lands on another replica; every internal step is idempotent.
 */
export class InternalClient {
  private readonly replicas: Replica[];
  private readonly cooldownMs: number;

  constructor(
    urls: readonly string[],
    private readonly secret: string,
    options: InternalClientOptions = {},
  ) {
    const timeoutMs = options.timeoutMs ?? TIMING.internalCall.timeoutMs;
    this.cooldownMs = options.cooldownMs ?? TIMING.internalCall.cooldownMs;
    this.replicas = urls.map((url) => ({
      pool: new Pool(url, {
        connections: options.connections ?? 16,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connectTimeout: 1_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      }),
      downUntil: 0,
    }));
  }

  private async send(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; text: string }> {
    let lastError: unknown;
    for (const replica of inTurn(this.replicas)) {
      try {
        const res = await replica.pool.request({
          method,
          path,
          headers: body === undefined ? { [SECRET_HEADER]: this.secret } : { 'content-type': 'application/json', [SECRET_HEADER]: this.secret },
          body,
        });
        const text = await res.body.text();
        if (res.statusCode >= 500) {
          replica.downUntil = Date.now() + this.cooldownMs;
          throw new UnknownOutcomeError(`internal ${path} answered ${res.statusCode}`);
        }
        return { status: res.statusCode, text };
      } catch (err) {
        if (err instanceof UnknownOutcomeError) throw err;
        replica.downUntil = Date.now() + this.cooldownMs;
        if (!isRefused(err)) throw new UnknownOutcomeError(`internal ${path}: ${(err as Error).message}`);
        lastError = err;
      }
    }
    throw new UnknownOutcomeError(`internal ${path}: no replica reachable (${(lastError as Error).message})`);
  }

  /** POSTs a JSON body; resolves with the parsed 2xx answer, throws InternalCallError on 4xx. */
  async post<T>(path: string, body: unknown): Promise<T> {
    const { status, text } = await this.send('POST', path, JSON.stringify(body));
    if (status >= 300) throw new InternalCallError(status, text);
    return JSON.parse(text) as T;
  }

  /** GETs JSON; resolves with status and parsed body for 2xx and 4xx answers alike. */
  async get<T>(path: string): Promise<{ status: number; body: T }> {
    const { status, text } = await this.send('GET', path);
    return { status, body: JSON.parse(text) as T };
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.pool.close()));
  }
}

/** Replicas in the order to try them: those not cooling down first, in list order, then the rest by when their cooldown ends. */
export function inTurn<R extends { downUntil: number }>(replicas: readonly R[]): R[] {
  const now = Date.now();
  const back = (r: R): number => (r.downUntil <= now ? 0 : r.downUntil);
  return [...replicas].sort((a, b) => back(a) - back(b)); // a stable sort keeps the list order among ready ones
}

/** The request never reached the replica: safe to send to another one. */
function isRefused(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ENOTFOUND';
}
