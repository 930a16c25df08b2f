/**
 * A service's two listeners built in-process as its own process builds them, with every
 * route registered, but no server listening and no Redis connection: for tests that read
 * what a service serves.
 */
import { Redis } from 'ioredis';
import type { ServiceConfig, ServiceName } from '@shop/common/config.js';
import { buildServiceApps, type ServiceApps } from '@shop/common/http.js';
import { createLogger } from '@shop/common/log.js';
import { Metrics } from '@shop/common/metrics.js';
import { DurableWriter } from '@shop/common/redis.js';
import type { ServiceModule } from '@shop/common/service.js';
import { orderService } from '@shop/order/app.js';
import { paymentService } from '@shop/payment/app.js';
import { stockService } from '@shop/stock/app.js';

const MODULES: Record<ServiceName, ServiceModule> = { order: orderService, stock: stockService, payment: paymentService };

/** `beforeRoutes` runs once the listeners exist and before the service adds its routes (for onRoute hooks). */
export async function offlineServiceApps(
  service: ServiceName,
  beforeRoutes: (apps: ServiceApps) => void = () => {},
): Promise<{ apps: ServiceApps; close: () => Promise<void> }> {
  const config = {
    service,
    replicaId: `${service}-offline-test`,
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
  const apps = buildServiceApps({ config, databases: [redis], metrics, log });
  beforeRoutes(apps);
  const extra = await MODULES[service]({ config, shards: [{ index: 0, group: service, redis, writer: new DurableWriter(redis, 0, 100) }], metrics, log, apps });
  return {
    apps,
    close: async () => {
      await extra.close?.();
      await apps.public.close();
      await apps.internal.close();
      redis.disconnect();
    },
  };
}
