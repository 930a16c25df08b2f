import { Pool } from 'undici';
import { UnknownOutcomeError } from './errors.js';

export const SECRET_HEADER = 'x-internal-secret';

/** A non-2xx answer of an internal endpoint. */
export class InternalCallError extends Error {
  override name = 'InternalCallError';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`internal call answered ${status}: ${body.slice(0, 200)}`);
  }
}

/**
 * Calls the internal API of one service's replicas over keep-alive pools, spreading calls
 * round-robin. A replica that refuses the connection is skipped for the next one; any
 * failure after the request may have been sent is an unknown outcome (UnknownOutcomeError),
 * which callers resolve by replaying: every internal step is idempotent.
 */
export class InternalClient {
  private readonly pools: Pool[];
  private next = 0;

  constructor(
    urls: readonly string[],
    private readonly secret: string,
    private readonly timeoutMs = 5_000,
    connections = 16,
  ) {
    this.pools = urls.map(
      (url) =>
        new Pool(url, {
          connections,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
    );
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    const payload = JSON.stringify(body);
    let lastError: unknown;
    for (let tries = 0; tries < this.pools.length; tries++) {
      const pool = this.pools[this.next++ % this.pools.length]!;
      try {
        const res = await pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', [SECRET_HEADER]: this.secret },
          body: payload,
        });
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) return JSON.parse(text) as T;
        if (res.statusCode >= 500) throw new UnknownOutcomeError(`internal ${path} answered ${res.statusCode}`);
        throw new InternalCallError(res.statusCode, text);
      } catch (err) {
        if (!isRefused(err)) {
          throw err instanceof InternalCallError || err instanceof UnknownOutcomeError
            ? err
            : new UnknownOutcomeError(`internal ${path}: ${(err as Error).message}`);
        }
        lastError = err;
      }
    }
    throw new UnknownOutcomeError(`internal ${path}: no replica reachable (${(lastError as Error).message})`);
  }

  async get<T>(path: string): Promise<{ status: number; body: T }> {
    const pool = this.pools[this.next++ % this.pools.length]!;
    const res = await pool.request({ method: 'GET', path, headers: { [SECRET_HEADER]: this.secret } });
    return { status: res.statusCode, body: (await res.body.json()) as T };
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
  }
}

/** The request never reached the replica: safe to send to another one. */
function isRefused(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ENOTFOUND';
}
