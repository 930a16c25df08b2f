import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ENV_VARS, type ServiceName } from '@shop/common/config.js';
import { callLink, peerLink, serviceLink } from '../src/fault-proxy/links.js';
import { redisConfig, sentinelConfig } from '../src/redis-config.js';
import { repoRoot } from '../src/entry.js';
import { GATEWAY_OFFSET } from '../src/ports.js';
import { buildTopology, groupsOf, listeningPorts, MAX_REPLICAS, MAX_SHARDS, processesOf, redisGroup, SERVICE_NODE_OPTIONS, SERVICES, TopologyError } from '../src/topology.js';
import { shardGroupName } from '@shop/common/shards.js';
import { testOptions, testTopology } from './fixtures.js';

describe('topology', () => {
  it('ha: 3 Redis per service, 3 Sentinels, replicas, one gateway, all ports distinct', () => {
    const t = testTopology('ha', { replicas: 3 });
    assert.equal(t.redis.length, 9);
    assert.equal(t.sentinels.length, 3);
    assert.equal(t.services.length, 9);
    for (const g of SERVICES) {
      const group = t.redis.filter((n) => n.group === g);
      assert.equal(group.filter((n) => n.initialPrimary).length, 1, `${g} has one initial primary`);
    }
    const ports = listeningPorts(t);
    assert.equal(new Set(ports).size, ports.length);
    assert.equal(t.gateway.port, 8000);
    for (const p of ports.filter((p) => p !== 8000)) {
      assert.ok(p >= 17000 && p < 17250, `port ${p} in the internal block`);
    }
    const names = processesOf(t).map((p) => p.name);
    assert.equal(new Set(names).size, names.length);
  });

  it('single: one Redis per service and no Sentinel', () => {
    const t = testTopology('single');
    assert.equal(t.redis.length, 3);
    assert.equal(t.sentinels.length, 0);
    const order0 = t.services.find((r) => r.name === 'order-0');
    assert.equal(order0?.env.REDIS_PORT, String(t.redis[0]?.port));
    assert.equal(order0?.env.REDIS_ACK_REPLICAS, '0');
    assert.equal(order0?.env.REDIS_SENTINELS, undefined);
  });

  it('default ports stay away from the usual ones', () => {
    const ports = listeningPorts(testTopology('ha', { replicas: 25 })).filter((p) => p !== 8000);
    for (const usual of [6379, 26379, 3000, 5000, 8080, 8000]) assert.ok(!ports.includes(usual));
  });

  it('gives every service the variables its config requires', () => {
    for (const layout of ['ha', 'single'] as const) {
      const t = testTopology(layout);
      for (const r of t.services) {
        for (const [name, v] of Object.entries(ENV_VARS)) {
          if (v.requiredBy.includes(r.service)) assert.ok(r.env[name], `${layout} ${r.name} lacks ${name}`);
        }
        // The process also gets the services' Node flags (the Dockerfile sets the same).
        assert.deepEqual(r.spawn.env, { NODE_OPTIONS: SERVICE_NODE_OPTIONS, ...r.env });
      }
    }
  });

  it("the services' image runs them with the same Node flags", () => {
    const dockerfile = readFileSync(path.join(repoRoot(), 'deploy', 'Dockerfile'), 'utf8');
    assert.ok(dockerfile.includes(`ENV NODE_OPTIONS=${SERVICE_NODE_OPTIONS}\n`), 'deploy/Dockerfile sets SERVICE_NODE_OPTIONS');
  });

  it('ha: services find Redis through the Sentinels and wait for both replicas', () => {
    const t = testTopology('ha');
    const sentinels = t.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    for (const r of t.services) {
      assert.equal(r.env.REDIS_SENTINELS, sentinels);
      assert.equal(r.env.REDIS_MASTER_NAME, r.service);
      assert.equal(r.env.REDIS_ACK_REPLICAS, '2');
    }
  });

  it('order gets the internal URLs of every stock and payment replica', () => {
    const t = testTopology('ha', { replicas: 3 });
    const order = t.services.filter((r) => r.service === 'order');
    const urls = (s: ServiceName): string =>
      t.services
        .filter((r) => r.service === s)
        .map((r) => `http://127.0.0.1:${r.internalPort}`)
        .join(',');
    for (const r of order) {
      assert.equal(r.env.STOCK_URLS, urls('stock'));
      assert.equal(r.env.PAYMENT_URLS, urls('payment'));
    }
    for (const r of t.services.filter((x) => x.service !== 'order')) assert.equal(r.env.STOCK_URLS, undefined);
  });

  it('passes extra service environment through', () => {
    const t = testTopology('single', { serviceEnv: { order: { SHOP_CRASH_POINT: 'after-reserve', LOG_LEVEL: 'debug' } } });
    assert.equal(t.services.find((r) => r.service === 'order')?.env.SHOP_CRASH_POINT, 'after-reserve');
    assert.equal(t.services.find((r) => r.service === 'stock')?.env.SHOP_CRASH_POINT, undefined);
  });

  it('runs nginx with its own prefix and error log, services with node', () => {
    const t = testTopology('single');
    assert.deepEqual(t.gateway.spawn.args, ['-p', t.gateway.prefix, '-c', t.gateway.configFile, '-e', t.gateway.errorLog]);
    assert.ok(t.gateway.prefix.startsWith('/srv/shop-data/'));
    assert.deepEqual(t.services[0]?.spawn.args, ['/app/packages/order/dist/src/main.js']);
    const ts = testTopology('single', { serviceEntryExt: 'ts' });
    assert.deepEqual(ts.services[0]?.spawn.args, ['--import', 'tsx', '--conditions=source', '/app/packages/order/src/main.ts']);
  });

  it('docker target uses DNS names and fixed in-container ports', () => {
    const t = testTopology('ha', { target: 'docker' });
    assert.equal(t.redis[0]?.host, 'order-redis-0');
    assert.equal(t.redis[0]?.port, 6379);
    assert.equal(t.services[0]?.env.HOST, '0.0.0.0');
    assert.match(t.services[0]?.env.REDIS_SENTINELS ?? '', /^sentinel-0:26379,sentinel-1:26379,sentinel-2:26379$/);
  });

  it('refuses bad options', () => {
    assert.throws(() => buildTopology(testOptions({ replicas: 0 })), TopologyError);
    assert.throws(() => buildTopology(testOptions({ replicas: 26 })), TopologyError);
    assert.throws(() => buildTopology(testOptions({ basePort: 65400 })), TopologyError);
    assert.throws(() => buildTopology(testOptions({ gatewayPort: 17100 })), TopologyError);
    assert.throws(() => buildTopology(testOptions({ dataDir: 'relative/dir' })), TopologyError);
  });
});

describe('topology with a fault proxy', () => {
  it('routes Redis peers, services and coordinator calls through named links on free ports of the block', () => {
    const t = testTopology('ha', { faultProxy: true });
    const p = t.faultProxy;
    assert.ok(p !== undefined);
    assert.equal(processesOf(t)[0]?.kind, 'proxy', 'started before the Redis servers that dial through it');
    const ports = listeningPorts(t);
    assert.equal(new Set(ports).size, ports.length, 'no port taken twice');
    for (const port of ports.filter((x) => x !== 8000)) assert.ok(port >= 17000 && port < 17250);
    const link = (name: string) => {
      const l = p.links.find((x) => x.name === name);
      assert.ok(l, `link ${name}`);
      return l;
    };
    for (const n of t.redis) {
      const peer = link(peerLink(n.name));
      assert.deepEqual(peer.target, { host: n.host, port: n.port });
      assert.equal(n.announcePort, peer.listen.port, 'replicas and Sentinels know it by its peer link');
      assert.match(redisConfig(t, n), new RegExp(`^replica-announce-port ${peer.listen.port}$`, 'm'));
      if (n.initialPrimary) assert.match(sentinelConfig(t, t.sentinels[0]!), new RegExp(`^sentinel monitor ${n.group} 127.0.0.1 ${peer.listen.port} 2$`, 'm'));
    }
    const order0 = t.services.find((r) => r.name === 'order-0')!;
    const stockUrls = order0.env.STOCK_URLS?.split(',') ?? [];
    assert.deepEqual(
      stockUrls,
      ['stock-0', 'stock-1'].map((s) => `http://127.0.0.1:${link(callLink('order-0', s)).listen.port}`),
    );
    assert.equal(order0.env.REDIS_SENTINELS, t.sentinels.map((s) => `127.0.0.1:${link(serviceLink('order-0', s.name)).listen.port}`).join(','));
    const nat = new Map(order0.env.REDIS_NAT_MAP?.split(',').map((kv) => kv.split('=') as [string, string]));
    for (const n of t.redis.filter((x) => x.group === 'order')) {
      assert.equal(nat.get(`127.0.0.1:${n.announcePort}`), `127.0.0.1:${link(serviceLink('order-0', n.name)).listen.port}`);
    }
    assert.equal(nat.size, 6, 'its own group\'s three servers and the three Sentinels');
    assert.equal(t.services.find((r) => r.name === 'stock-1')?.env.STOCK_URLS, undefined);
  });

  it('leaves an ordinary topology as it was, and refuses what it cannot serve', () => {
    const t = testTopology('ha');
    assert.equal(t.faultProxy, undefined);
    for (const n of t.redis) assert.equal(n.announcePort, n.port);
    for (const r of t.services) assert.equal(r.env.REDIS_NAT_MAP, undefined);
    assert.throws(() => testTopology('single', { faultProxy: true }), TopologyError);
    // 514 links: more than the whole block of 250, gaps of unused replicas included.
    assert.throws(() => testTopology('ha', { faultProxy: true, replicas: 12 }), /do not fit/);
  });
});

describe('topology with shards', () => {
  const groups = ['order', 'stock', 'payment', 'order-s1', 'stock-s1', 'payment-s1'];

  it('one Redis group per service and shard, named after shard 0 as before, on distinct ports of the block', () => {
    const t = testTopology('ha', { shards: 2 });
    assert.equal(t.shards, 2);
    assert.deepEqual(groupsOf(t), groups);
    for (const g of groups) {
      const nodes = redisGroup(t, g);
      assert.deepEqual(
        nodes.map((n) => n.name),
        [0, 1, 2].map((i) => `${g}-redis-${i}`),
      );
      assert.equal(nodes.filter((n) => n.initialPrimary).length, 1, `${g} has one initial primary`);
    }
    const s1 = t.redis.find((n) => n.name === 'stock-s1-redis-0');
    assert.equal(s1?.service, 'stock');
    assert.equal(s1?.shard, 1);
    assert.equal(s1?.group, shardGroupName('stock', 1));
    const one = testTopology('ha');
    assert.deepEqual(
      t.redis.filter((n) => n.shard === 0).map((n) => [n.name, n.port]),
      one.redis.map((n) => [n.name, n.port]),
      'shard 0 keeps the names and ports of an unsharded cluster',
    );
    const ports = listeningPorts(t);
    assert.equal(new Set(ports).size, ports.length);
    for (const p of ports.filter((x) => x !== 8000)) assert.ok(p >= 17000 && p < 17250, `port ${p} in the internal block`);
    for (const n of t.redis) assert.ok(n.port < 17100, `${n.name} below the services' offsets`);
    assert.ok(!ports.includes(17000 + GATEWAY_OFFSET), "the test harness's gateway offset stays free");
    const names = processesOf(t).map((p) => p.name);
    assert.equal(new Set(names).size, names.length);
  });

  it('the same Sentinels monitor every group, with its own timings and password', () => {
    const t = testTopology('ha', { shards: 2 });
    const conf = sentinelConfig(t, t.sentinels[0]!);
    for (const g of groups) {
      const primary = redisGroup(t, g).find((n) => n.initialPrimary)!;
      assert.match(conf, new RegExp(`^sentinel monitor ${g} 127.0.0.1 ${primary.port} 2$`, 'm'));
      assert.match(conf, new RegExp(`^sentinel down-after-milliseconds ${g} `, 'm'));
      assert.match(conf, new RegExp(`^sentinel auth-pass ${g} `, 'm'));
    }
    assert.equal([...conf.matchAll(/^sentinel monitor /gm)].length, groups.length);
  });

  it('tells every service replica the shard count; REDIS_MASTER_NAME stays the service (shard 0)', () => {
    for (const shards of [1, 2, MAX_SHARDS]) {
      const t = testTopology('ha', { shards });
      for (const r of t.services) {
        assert.equal(r.env.REDIS_SHARDS, String(shards));
        assert.equal(r.env.REDIS_MASTER_NAME, r.service);
      }
    }
    for (const r of testTopology('single').services) assert.equal(r.env.REDIS_SHARDS, undefined, 'single: one direct Redis, no shards to name');
  });

  it('fits MAX_SHARDS in the block without collisions, and refuses more, or shards on the single layout', () => {
    const t = testTopology('ha', { shards: MAX_SHARDS, replicas: MAX_REPLICAS });
    const ports = listeningPorts(t);
    assert.equal(new Set(ports).size, ports.length);
    for (const p of ports.filter((x) => x !== 8000)) assert.ok(p >= 17000 && p < 17250);
    assert.throws(() => testTopology('ha', { shards: MAX_SHARDS + 1 }), TopologyError);
    assert.throws(() => testTopology('ha', { shards: 0 }), TopologyError);
    assert.throws(() => testTopology('single', { shards: 2 }), /single layout .* needs --layout ha/);
    assert.equal(testTopology('single', { shards: 1 }).redis.length, 3);
  });

  it('with a fault proxy: links to every shard, no port taken twice, and a NAT map over all of the service\'s shards', () => {
    const t = testTopology('ha', { shards: 2, faultProxy: true });
    const p = t.faultProxy!;
    const ports = listeningPorts(t);
    assert.equal(new Set(ports).size, ports.length, 'no port taken twice');
    for (const port of ports.filter((x) => x !== 8000)) assert.ok(port >= 17000 && port < 17250);
    const link = (name: string) => p.links.find((l) => l.name === name);
    for (const n of t.redis) {
      assert.equal(link(peerLink(n.name))?.listen.port, n.announcePort);
      if (n.initialPrimary) assert.match(sentinelConfig(t, t.sentinels[0]!), new RegExp(`^sentinel monitor ${n.group} 127.0.0.1 ${n.announcePort} 2$`, 'm'));
    }
    const stock0 = t.services.find((r) => r.name === 'stock-0')!;
    const nat = new Map(stock0.env.REDIS_NAT_MAP?.split(',').map((kv) => kv.split('=') as [string, string]));
    for (const n of t.redis.filter((x) => x.service === 'stock')) {
      assert.equal(nat.get(`127.0.0.1:${n.announcePort}`), `127.0.0.1:${link(serviceLink('stock-0', n.name))?.listen.port}`, n.name);
    }
    assert.equal(nat.size, 9, "both shards' three servers and the three Sentinels");
    assert.equal(link(serviceLink('stock-0', 'order-s1-redis-0')), undefined, 'no link to another service\'s shard');
  });

  it('an unsharded fault-proxy topology keeps the ports it had (low gaps first)', () => {
    const t = testTopology('ha', { faultProxy: true });
    const offsets = [t.faultProxy!.control.port, ...t.faultProxy!.links.map((l) => l.listen.port)].map((x) => x - 17000);
    const before = [...Array.from({ length: 11 }, (_, i) => 9 + i), ...Array.from({ length: 77 }, (_, i) => 23 + i)];
    assert.deepEqual(offsets, before.slice(0, offsets.length));
  });
});
