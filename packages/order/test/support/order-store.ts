import type { Redis } from 'ioredis';
import { DurableWriter } from '@shop/common/redis.js';
import { startTestRedis, type TestRedis } from '@shop/common/testing/redis-server.js';
import { OrderStore } from '../../src/store.js';

/** A throwaway redis-server and an OrderStore on it (no replicas: WAIT for 0 of them). */
export async function startOrderStore(): Promise<{ server: TestRedis; redis: Redis; store: OrderStore }> {
  const server = await startTestRedis();
  const redis = server.client();
  return { server, redis, store: new OrderStore(redis, new DurableWriter(redis, 0, 1000)) };
}
