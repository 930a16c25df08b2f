/** Waiting for things to come up (or go away) on loopback. */
import http from 'node:http';
import net from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * Polls `check` until it returns true; `what` names the wait in the timeout error, and
 * `lastSeen` (when given) adds what the last check found, so a timeout says why.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined; lastSeen?: () => string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    const reason = opts.abort?.();
    if (reason !== undefined) throw new Error(`${what}: ${reason}`);
    if (Date.now() >= deadline) {
      const seen = opts.lastSeen?.();
      throw new TimeoutError(`timed out after ${opts.timeoutMs} ms waiting for ${what}${seen === undefined ? '' : ` (last seen: ${seen})`}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** Status of a GET, or undefined when nothing answered. Agent-less so no socket stays open. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Whether a TCP port on 127.0.0.1 can be bound right now (nobody listens on it). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
