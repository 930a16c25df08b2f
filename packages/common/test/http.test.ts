/**
 * The HTTP surfaces of every service (http.ts) in process, through Fastify's inject(): a real
 * Redis, real Metrics, a silent logger, and a few routes that fail each way a handler can.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { ERRORS, ShopError, UnknownOutcomeError, type ErrorCode } from '../src/errors.js';
import { buildServiceApps, route, type ServiceApps } from '../src/http.js';
import { SECRET_HEADER } from '../src/internal-client.js';
import { Metrics } from '../src/metrics.js';
import { startTestRedis, type TestRedis } from './support/redis-server.js';

const SECRET = 'internal-secret-0123';
let server: TestRedis;
let redis: Redis;
let apps: ServiceApps;

/** The same failing routes on both surfaces. */
function addProbeRoutes(app: FastifyInstance): void {
  route(app, 'GET', '/ok/:id', async (req) => ({ id: (req.params as { id: string }).id }));
  route(app, 'POST', '/probe', async () => ({ reached: true }));
  route(app, 'GET', '/refuse', async () => {
    throw new ShopError('OUT_OF_STOCK');
  });
  route(app, 'GET', '/unavailable', async () => {
    throw new ShopError('UNAVAILABLE', 'try later, please');
  });
  route(app, 'GET', '/unknown-outcome', async () => {
    throw new UnknownOutcomeError('lost the connection after sending the write');
  });
  route(app, 'GET', '/crash', async () => {
    throw new Error('secret internals: stack and state');
  });
  route(app, 'GET', '/oom', async () => {
    throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
  });
  app.route({
    method: 'GET',
    url: '/validated',
    schema: { querystring: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } },
    handler: async () => ({ validated: true }),
  });
}

before(async () => {
  server = await startTestRedis();
  redis = server.client();
  const config = loadConfig({
    SERVICE: 'stock',
    REPLICA_ID: 'stock-test',
    PUBLIC_PORT: '1',
    INTERNAL_PORT: '2',
    INTERNAL_SECRET: SECRET,
    REDIS_PASSWORD: server.password,
    REDIS_PORT: String(server.port),
  });
  apps = buildServiceApps({ config, databases: [redis], metrics: new Metrics('stock', 'stock-test'), log: pino({ level: 'silent' }) });
  addProbeRoutes(apps.public);
  addProbeRoutes(apps.internal);
});
after(async () => {
  await Promise.all([apps.public.close(), apps.internal.close()]);
  await server.stop();
});

const auth = { [SECRET_HEADER]: SECRET };

/** Asserts a JSON error answer of the registry: status, code, and its message unless given. */
function assertError(res: { statusCode: number; headers: Record<string, unknown>; body: string }, code: ErrorCode, message?: string): void {
  assert.equal(res.statusCode, ERRORS[code].status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), { error: message ?? ERRORS[code].message, code });
}

describe('routing', () => {
  test('a route answers its method; every other method gets a JSON 405', async () => {
    const ok = await apps.public.inject({ method: 'GET', url: '/ok/abc' });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { id: 'abc' });
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
      assertError(await apps.public.inject({ method, url: '/ok/abc' }), 'METHOD_NOT_ALLOWED');
    }
    assertError(await apps.public.inject({ method: 'GET', url: '/probe' }), 'METHOD_NOT_ALLOWED');
    assertError(await apps.internal.inject({ method: 'DELETE', url: '/probe', headers: auth }), 'METHOD_NOT_ALLOWED');
  });

  test('an unknown route is a JSON 404 on both surfaces', async () => {
    assertError(await apps.public.inject({ method: 'GET', url: '/no/such/route' }), 'NOT_FOUND');
    assertError(await apps.internal.inject({ method: 'GET', url: '/no/such/route', headers: auth }), 'NOT_FOUND');
  });

  test('a malformed URL is answered from the registry, BAD_REQUEST, without echoing it', async () => {
    const res = await apps.public.inject({ method: 'GET', url: '/ok/%zz' });
    assertError(res, 'BAD_REQUEST');
    assert.doesNotMatch(res.body, /%zz/);
  });

  test('the public surface ignores any request body of any type', async () => {
    for (const [type, payload] of [['application/json', '{}'], ['application/octet-stream', ''], ['text/plain', 'hello']]) {
      const res = await apps.public.inject({ method: 'POST', url: '/probe', headers: { 'content-type': type! }, payload });
      assert.equal(res.statusCode, 200, `${type}: ${res.body}`);
    }
  });
});

describe('the internal secret', () => {
  test('missing, wrong, or of the right length but non-ASCII: 401, and the route never runs', async () => {
    const wrongSameLength = 'x'.repeat(SECRET.length);
    const nonAscii = 'é'.repeat(SECRET.length); // as many characters as the secret, twice the bytes
    for (const headers of [{}, { [SECRET_HEADER]: 'nope' }, { [SECRET_HEADER]: wrongSameLength }, { [SECRET_HEADER]: nonAscii }, { [SECRET_HEADER]: '' }]) {
      assertError(await apps.internal.inject({ method: 'POST', url: '/probe', headers }), 'UNAUTHORIZED');
    }
  });

  test('the right secret passes', async () => {
    const res = await apps.internal.inject({ method: 'POST', url: '/probe', headers: auth });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { reached: true });
  });

  test('/health, /ready and /metrics need no secret', async () => {
    const health = await apps.internal.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'up', replica: 'stock-test' });
    const ready = await apps.internal.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready' });
    const metrics = await apps.internal.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /shop_http_requests_total\{/);
    // Only those exact paths: a look-alike still needs the secret.
    assertError(await apps.internal.inject({ method: 'GET', url: '/health/../probe' }), 'UNAUTHORIZED');
  });

  test('the public surface needs no secret', async () => {
    assert.equal((await apps.public.inject({ method: 'POST', url: '/probe' })).statusCode, 200);
  });
});

describe('errors thrown by a handler', () => {
  for (const [name, app] of [['public', () => apps.public], ['internal', () => apps.internal]] as const) {
    test(`${name}: a ShopError answers its status, code and message`, async () => {
      assertError(await app().inject({ method: 'GET', url: '/refuse', headers: auth }), 'OUT_OF_STOCK');
      assertError(await app().inject({ method: 'GET', url: '/unavailable', headers: auth }), 'UNAVAILABLE', 'try later, please');
    });

    test(`${name}: an unknown outcome is 503 UNCONFIRMED`, async () => {
      assertError(await app().inject({ method: 'GET', url: '/unknown-outcome', headers: auth }), 'UNCONFIRMED');
    });

    test(`${name}: an unknown Error is 500 INTERNAL, its message not shown`, async () => {
      const res = await app().inject({ method: 'GET', url: '/crash', headers: auth });
      assertError(res, 'INTERNAL');
      assert.doesNotMatch(res.body, /secret internals/);
    });

    test(`${name}: Redis at its memory bound (OOM) is 507 DATABASE_FULL`, async () => {
      assertError(await app().inject({ method: 'GET', url: '/oom', headers: auth }), 'DATABASE_FULL');
    });
  }

  test('a validation error is 400 BAD_REQUEST; the public surface does not echo the input', async () => {
    const hostile = '<script>alert(1)</script>';
    const res = await apps.public.inject({ method: 'GET', url: `/validated?n=${encodeURIComponent(hostile)}` });
    assertError(res, 'BAD_REQUEST');
    assert.doesNotMatch(res.body, /script|querystring/);
    const missing = await apps.public.inject({ method: 'GET', url: '/validated' });
    assertError(missing, 'BAD_REQUEST');
    assert.equal((await apps.public.inject({ method: 'GET', url: '/validated?n=3' })).statusCode, 200);
  });

  test('a validation error on the internal surface is 400 BAD_REQUEST with the detail, for the calling service', async () => {
    const res = await apps.internal.inject({ method: 'GET', url: '/validated', headers: auth });
    assert.equal(res.statusCode, 400);
    const body = res.json<{ code: string; error: string }>();
    assert.equal(body.code, 'BAD_REQUEST');
    assert.match(body.error, /n/);
    assert.notEqual(body.error, ERRORS.BAD_REQUEST.message);
  });
});

describe('metrics', () => {
  test('answers are counted by surface, route template, method and status', async () => {
    await apps.public.inject({ method: 'GET', url: '/ok/counted' });
    const text = (await apps.internal.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(text, /shop_http_requests_total\{[^}]*surface="public",route="\/ok\/:id",method="GET",status="200"[^}]*\} [1-9]/);
    assert.doesNotMatch(text, /\/ok\/counted/, 'by template, not by URL');
  });
});
