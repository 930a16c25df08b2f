import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteHandlerMethod } from 'fastify';
import type { Redis } from 'ioredis';
import type { ServiceConfig } from './config.js';
import { ERRORS, ShopError, UnknownOutcomeError, type ErrorCode } from './errors.js';
import { SECRET_HEADER } from './internal-client.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { classifyRedisError } from './redis.js';
import { MAX_FRAME_BYTES } from './frames/codec.js';
import { serveFrames as serveFrameChannel } from './frames/server.js';

export interface AppDeps {
  config: ServiceConfig;
  /** The service's Redis clients, one per shard: /ready needs all of them. */
  databases: readonly Redis[];
  metrics: Metrics;
  log: Logger;
}

export interface ServiceApps {
  /** The contract of API.md, and nothing else: the gateway's upstream. */
  public: FastifyInstance;
  /** Participant steps (secret required), /health, /ready, /metrics. */
  internal: FastifyInstance;
  /**
   * Serves `handle` on the internal port as a frame channel (frames/server.ts) opened by an
   * upgrade of `path` with the internal secret; counted in the request metrics as method FRAME.
   */
  serveFrames: (path: string, handle: (body: unknown) => Promise<unknown>) => void;
}

type Method = 'GET' | 'POST';
const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

export function sendError(reply: FastifyReply, code: ErrorCode, message?: string): FastifyReply {
  return reply
    .code(ERRORS[code].status)
    .type('application/json')
    .send({ error: message ?? ERRORS[code].message, code });
}

function newFastify(log: Logger, metrics: Metrics, surface: 'public' | 'internal'): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = log.child({ surface });
  const app = Fastify({
    loggerInstance,
    // One log line per request costs ~40% of throughput: requests are counted in metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Ids are at most 64 characters; anything much longer is hostile.
    routerOptions: { maxParamLength: 200 },
    bodyLimit: surface === 'public' ? 1024 : MAX_FRAME_BYTES,
    return503OnClosing: true,
    keepAliveTimeout: 65_000,
    // Fastify's own answers to a malformed URL or header use its codes and echo the input:
    // answer from our registry instead.
    frameworkErrors: (_err, _req, reply) => {
      void sendError(reply, 'BAD_REQUEST');
    },
  });
  // One branch per class of failure (errors.ts): final answers, unknown outcomes, a database
  // that is away or full, bad requests, and faults.
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ShopError) return sendError(reply, err.code, err.message);
    if (err instanceof UnknownOutcomeError) return sendError(reply, 'UNCONFIRMED');
    switch (classifyRedisError(err)) {
      case 'full':
        return sendError(reply, 'DATABASE_FULL');
      case 'unknown':
      case 'refused-unrun':
        // Only reads get here (writes answer UnknownOutcomeError or ShopError): their
        // retries ran out while the database was away. Nothing was changed.
        return sendError(reply, 'UNAVAILABLE', 'database unavailable; try again');
      case 'final':
        break;
    }
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation !== undefined || (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)) {
      // Internal callers get the detail; public clients get the registry's sentence, never their input echoed.
      return sendError(reply, 'BAD_REQUEST', surface === 'internal' ? e.message : undefined);
    }
    req.log.error({ err }, 'request failed');
    return sendError(reply, 'INTERNAL');
  });
  app.setNotFoundHandler((_req, reply) => sendError(reply, 'NOT_FOUND'));
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ surface, route, method: req.method, status: reply.statusCode });
    metrics.latency.observe({ surface, route }, reply.elapsedTime / 1000);
    done();
  });
  return app;
}

/**
 * Registers a route, and answers 405 (not 404) to the other methods on the same path,
 * as the contract asks.
 */
export function route(app: FastifyInstance, method: Method, url: string, handler: RouteHandlerMethod): void {
  app.route({ method, url, handler });
  const others = ALL_METHODS.filter((m) => m !== method && !(method === 'GET' && m === 'HEAD'));
  app.route({ method: others, url, handler: (_req, reply) => sendError(reply, 'METHOD_NOT_ALLOWED') });
}

export function buildServiceApps(deps: AppDeps): ServiceApps {
  const { config, databases, metrics, log } = deps;
  const publicApp = newFastify(log, metrics, 'public');
  // The contract has no request bodies, yet clients send some anyway (aiohttp sends an empty
  // application/octet-stream body, locust sends "{}" as JSON): read and ignore any body of
  // any type, so no client is refused for what it sends along.
  publicApp.removeAllContentTypeParsers();
  publicApp.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));
  const internal = newFastify(log, metrics, 'internal');

  const secret = Buffer.from(config.internalSecret);
  const hasSecret = (headers: IncomingHttpHeaders): boolean => {
    const given = headers[SECRET_HEADER];
    // Compared as bytes: a header of the right length in characters but not in bytes
    // (non-ASCII) must be refused, not throw.
    const bytes = typeof given === 'string' ? Buffer.from(given) : undefined;
    return bytes !== undefined && bytes.length === secret.length && timingSafeEqual(bytes, secret);
  };
  let refusalLogged = false;
  const logRefusal = (url: string | undefined, from: string | undefined): void => {
    if (refusalLogged) return;
    refusalLogged = true;
    log.warn({ url, from }, 'internal call refused: missing or wrong secret (logged once)');
  };
  internal.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done) => {
    if (req.url === '/health' || req.url === '/ready' || req.url === '/metrics') return done();
    if (hasSecret(req.headers)) return done();
    logRefusal(req.url, req.ip);
    sendError(reply, 'UNAUTHORIZED');
  });

  const serveFrames = (path: string, handle: (body: unknown) => Promise<unknown>): void => {
    const frames = serveFrameChannel(internal.server, {
      path,
      authorized: (req) => {
        if (hasSecret(req.headers)) return true;
        logRefusal(req.url, req.socket.remoteAddress);
        return false;
      },
      handle,
      onAnswer: (seconds, failed) => {
        metrics.requests.inc({ surface: 'internal', route: path, method: 'FRAME', status: failed ? 503 : 200 });
        metrics.latency.observe({ surface: 'internal', route: path }, seconds);
      },
    });
    // Before the server's close, which would otherwise wait for the channels' connections.
    internal.addHook('preClose', (done) => {
      frames.close();
      done();
    });
  };

  route(internal, 'GET', '/health', async () => ({ status: 'up', replica: config.replicaId }));
  route(internal, 'GET', '/ready', async (_req, reply) => {
    try {
      // Ready only with every shard: a checkout may need any of them.
      await Promise.all(databases.map((redis) => redis.ping()));
      return { status: 'ready' };
    } catch {
      return sendError(reply, 'UNAVAILABLE', 'database unreachable');
    }
  });
  route(internal, 'GET', '/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return { public: publicApp, internal, serveFrames };
}
