import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { ShopError } from '../src/errors.js';
import { shardGroupName } from '../src/shards.js';
import { parseAmount, parseBatchSize, parseId, parseQuantity } from '../src/validate.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ShopError ? err.code : 'other';
  }
  return 'accepted';
};

describe('input validation', () => {
  test('amounts are non-negative safe integers in plain decimal', () => {
    assert.equal(parseAmount('0'), 0);
    assert.equal(parseAmount('9007199254740991'), Number.MAX_SAFE_INTEGER);
    for (const bad of ['-5', '1.5', 'abc', '1e3', '', ' 1', '+1', '0x10', '9007199254740992', '1'.repeat(17), undefined]) {
      assert.equal(code(() => parseAmount(bad)), 'BAD_NUMBER', String(bad));
    }
  });

  test('quantities are at least 1; batch sizes are bounded', () => {
    assert.equal(code(() => parseQuantity('0')), 'BAD_QUANTITY');
    assert.equal(parseQuantity('3'), 3);
    assert.equal(code(() => parseBatchSize('10000001')), 'BAD_NUMBER');
  });

  test('ids: UUIDs and decimal ids pass; anything that could shape a key does not', () => {
    assert.equal(parseId('0'), '0');
    assert.equal(parseId('8c8b9ce3-dea1-44e5-9894-333bdfcdcb9b'), '8c8b9ce3-dea1-44e5-9894-333bdfcdcb9b');
    for (const bad of ['', 'a:b', 'a b', 'a\nb', '*', 'x'.repeat(65), 'é', undefined]) {
      assert.equal(code(() => parseId(bad)), 'BAD_ID', JSON.stringify(bad));
    }
  });
});

describe('configuration', () => {
  const base = {
    SERVICE: 'order',
    PUBLIC_PORT: '1',
    INTERNAL_PORT: '2',
    INTERNAL_SECRET: 's',
    REDIS_PASSWORD: 'p',
    REDIS_PORT: '3',
    STOCK_URLS: 'http://127.0.0.1:4',
    PAYMENT_URLS: 'http://127.0.0.1:5,http://127.0.0.1:6',
  };

  test('reads a direct Redis or Sentinels, and the participant URLs', () => {
    const c = loadConfig(base);
    assert.deepEqual(c.redis, { kind: 'direct', host: '127.0.0.1', port: 3, password: 'p' });
    assert.deepEqual(c.paymentUrls, ['http://127.0.0.1:5', 'http://127.0.0.1:6']);
    assert.equal(c.redisAckReplicas, 0);
    const ha = loadConfig({ ...base, REDIS_SENTINELS: 'a:1,b:2', REDIS_ACK_REPLICAS: '1' });
    assert.deepEqual(ha.redis, {
      kind: 'sentinel',
      sentinels: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      masterName: 'order',
      password: 'p',
      natMap: {},
    });
    assert.equal(ha.redisAckReplicas, 1);
    const proxied = loadConfig({ ...base, REDIS_SENTINELS: 'a:1', REDIS_NAT_MAP: '127.0.0.1:7=127.0.0.1:9, b:2=c:3' });
    assert.deepEqual(proxied.redis.kind === 'sentinel' && proxied.redis.natMap, {
      '127.0.0.1:7': { host: '127.0.0.1', port: 9 },
      'b:2': { host: 'c', port: 3 },
    });
    assert.throws(() => loadConfig({ ...base, REDIS_SENTINELS: 'a:1', REDIS_NAT_MAP: 'a:1' }), /REDIS_NAT_MAP/);
  });

  test('refuses missing or malformed settings', () => {
    assert.throws(() => loadConfig({ ...base, INTERNAL_SECRET: '' }), ConfigError);
    assert.throws(() => loadConfig({ ...base, SERVICE: 'shop' }), ConfigError);
    assert.throws(() => loadConfig({ ...base, PUBLIC_PORT: '70000' }), ConfigError);
    assert.throws(() => loadConfig({ ...base, STOCK_URLS: 'not a url' }), ConfigError);
    assert.throws(() => loadConfig({ ...base, REDIS_ACK_REPLICAS: '-1' }), ConfigError);
  });

  test('shards: 1 by default; more only under Sentinel, each a group of its own', () => {
    assert.equal(loadConfig(base).redisShards, 1);
    assert.equal(loadConfig({ ...base, REDIS_SENTINELS: 'a:1', REDIS_SHARDS: '4' }).redisShards, 4);
    assert.throws(() => loadConfig({ ...base, REDIS_SHARDS: '2' }), /needs Sentinel/);
    assert.throws(() => loadConfig({ ...base, REDIS_SENTINELS: 'a:1', REDIS_SHARDS: '0' }), /REDIS_SHARDS must be in 1\.\.256/);
    assert.throws(() => loadConfig({ ...base, REDIS_SENTINELS: 'a:1', REDIS_SHARDS: 'two' }), ConfigError);
    assert.deepEqual([0, 1, 2].map((k) => shardGroupName('stock', k)), ['stock', 'stock-s1', 'stock-s2']);
  });

  test('a crash point can be limited to one replica', () => {
    assert.equal(loadConfig({ ...base, SHOP_CRASH_POINT: 'after-decide' }).crashPoint, 'after-decide');
    assert.equal(loadConfig({ ...base, SHOP_CRASH_POINT: 'after-decide@order-0', REPLICA_ID: 'order-0' }).crashPoint, 'after-decide');
    assert.equal(loadConfig({ ...base, SHOP_CRASH_POINT: 'after-decide@order-0', REPLICA_ID: 'order-1' }).crashPoint, undefined);
  });
});
