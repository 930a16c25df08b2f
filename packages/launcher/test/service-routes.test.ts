/**
 * The gateway's routes (packages/launcher/src/routes.ts, from which nginx.conf is generated) and the
 * routes each service serves on its public surface are the same list: a route added to one
 * and not the other fails here, before it becomes a 404 at the gateway or an unreachable
 * handler in a service.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { ServiceConfig, ServiceName } from '@shop/common/config.js';
import { buildServiceApps } from '@shop/common/http.js';
import { createLogger } from '@shop/common/log.js';
import { Metrics } from '@shop/common/metrics.js';
import { DurableWriter } from '@shop/common/redis.js';
import type { ServiceModule } from '@shop/common/service.js';
import { orderService } from '@shop/order/app.js';
import { paymentService } from '@shop/payment/app.js';
import { stockService } from '@shop/stock/app.js';
import { ROUTES } from '../src/routes.js';

const MODULES: Record<ServiceName, ServiceModule> = { order: orderService, stock: stockService, payment: paymentService };

/** `METHOD /path/:param` of every single-method public route a service registers (no server, no Redis connection). */
async function servedRoutes(service: ServiceName): Promise<string[]> {
  const config = {
    service,
    replicaId: `${service}-test`,
    internalSecret: 'x'.repeat(32),
    redisAckReplicas: 0,
    redisAckTimeoutMs: 100,
    stockUrls: ['http://127.0.0.1:9'],
    paymentUrls: ['http://127.0.0.1:9'],
    logLevel: 'silent',
    crashPoint: undefined,
  } as unknown as ServiceConfig;
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  const log = createLogger(service, config.replicaId, 'silent');
  const metrics = new Metrics(service, config.replicaId);
  const apps = buildServiceApps({ config, redis, metrics, log });
  const seen: string[] = [];
  apps.public.addHook('onRoute', (r) => {
    if (typeof r.method === 'string' && (r.method === 'GET' || r.method === 'POST')) seen.push(`${r.method} ${r.url}`);
  });
  const extra = await MODULES[service]({ config, redis, writer: new DurableWriter(redis, 0, 100), metrics, log, apps });
  await extra.close?.();
  await apps.public.close();
  await apps.internal.close();
  redis.disconnect();
  return seen.sort();
}

describe('gateway routes and service routes', () => {
  for (const service of ['order', 'stock', 'payment'] as const) {
    test(`${service}: the service serves exactly the routes the gateway forwards`, async () => {
      const gateway = ROUTES.filter((r) => r.service === service)
        .map((r) => `${r.method} ${r.path.replace(/\{([a-z_]+)\}/g, ':$1')}`)
        .sort();
      assert.deepEqual(await servedRoutes(service), gateway);
    });
  }
});
