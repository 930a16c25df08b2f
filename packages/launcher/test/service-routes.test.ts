/**
 * The gateway's routes (packages/launcher/src/routes.ts, from which nginx.conf is generated) and the
 * routes each service serves on its public surface are the same list: a route added to one
 * and not the other fails here, before it becomes a 404 at the gateway or an unreachable
 * handler in a service.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceName } from '@shop/common/config.js';
import { offlineServiceApps } from './offline-service.js';
import { ROUTES } from '../src/routes.js';

/** `METHOD /path/:param` of every single-method public route a service registers (no server, no Redis connection). */
async function servedRoutes(service: ServiceName): Promise<string[]> {
  const seen: string[] = [];
  const { close } = await offlineServiceApps(service, (apps) =>
    apps.public.addHook('onRoute', (r) => {
      if (typeof r.method === 'string' && (r.method === 'GET' || r.method === 'POST')) seen.push(`${r.method} ${r.url}`);
    }),
  );
  await close();
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
