/** What both process roles of the ceiling skeleton share: their settings and their HTTP server. */
import http from 'node:http';
import { Redis } from 'ioredis';
import { GroupCommit } from './group-commit.js';

/** Settings come from the environment: skeleton.ts sets them when it starts a process. */
export function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
}

/** The process's Redis group primary, behind the WAIT rule (CEILING_ACKS replicas, CEILING_WAIT_MS). */
export function durableRedis(): { redis: Redis; log: GroupCommit; ready: Promise<void> } {
  const redis = new Redis({
    host: env('CEILING_REDIS_HOST'),
    port: Number(env('CEILING_REDIS_PORT')),
    password: env('CEILING_PASSWORD'),
    // A skeleton with no recovery must not replay a write it cannot know the fate of.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: false,
  });
  // Without the offline queue a command sent before the connection is up fails at once: ready is the connection's.
  const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  return { redis, log: new GroupCommit(redis, Number(env('CEILING_ACKS')), Number(env('CEILING_WAIT_MS'))), ready };
}

export type Handler = (method: string, url: string) => Promise<{ status: number; body: string }>;

/**
 * A bare node:http server: no framework, no body parsing (every argument is in the path), so
 * what it costs is the least any HTTP hop of the topology costs. GET /ready answers once
 * `ready` resolved (the launcher polls it).
 */
export function serve(port: number, ready: Promise<unknown>, handle: Handler): void {
  let isReady = false;
  void ready.then(() => (isReady = true));
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url === '/ready') return reply(isReady ? 200 : 503, isReady ? 'ready' : 'starting');
    // The request has no body worth reading; drain it so the connection can be reused.
    req.resume();
    handle(req.method ?? 'GET', req.url ?? '/').then(
      (r) => reply(r.status, r.body),
      (err: unknown) => reply(503, err instanceof Error ? err.message : String(err)),
    );
  });
  // Longer than nginx's upstream keepalive_timeout (60 s): the gateway, not this end, closes idle connections.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(port, '127.0.0.1');
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
