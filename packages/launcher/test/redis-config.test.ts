import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { aofRewritePercentage, quote, redisConfig, sentinelConfig } from '../src/redis-config.js';
import { repoRoot } from '../src/entry.js';
import { persistedPrimaries } from '../src/roles.js';
import { SERVICES } from '../src/topology.js';
import { testTopology } from './fixtures.js';

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

describe('redis.conf', () => {
  it('the servers of a group rewrite their AOF at different growths, locally and in containers', () => {
    const t = testTopology('ha');
    for (const group of new Set(t.redis.map((n) => n.group))) {
      const growths = t.redis
        .filter((n) => n.group === group)
        .map((n) => lines(redisConfig(t, n)).find((l) => l.startsWith('auto-aof-rewrite-percentage ')));
      assert.deepEqual(growths, [100, 150, 200].map((g) => `auto-aof-rewrite-percentage ${g}`), group);
    }
    // The Redis entrypoint derives the same from the index ending the server's name.
    const entrypoint = fs.readFileSync(path.join(repoRoot(), 'deploy', 'redis', 'redis-entrypoint.sh'), 'utf8');
    assert.ok(entrypoint.includes('--auto-aof-rewrite-percentage $((100 + 50 * index))'));
    assert.deepEqual([0, 1, 2].map(aofRewritePercentage), [100, 150, 200]);
  });

  it('ha: loopback only, password, AOF everysec, own dir, replica safety', () => {
    const t = testTopology('ha');
    const n = t.redis[4];
    assert.ok(n);
    const conf = lines(redisConfig(t, n));
    for (const want of [
      'bind 127.0.0.1',
      `port ${n.port}`,
      `dir "${n.dir}"`,
      'requirepass "pw-123"',
      'masterauth "pw-123"',
      'appendonly yes',
      'appendfsync everysec',
      'min-replicas-to-write 1',
      'min-replicas-max-lag 2',
      'repl-diskless-sync yes',
      'repl-diskless-sync-delay 0',
      'daemonize no',
    ]) {
      assert.ok(conf.includes(want), `missing "${want}"`);
    }
    assert.ok(n.dir.startsWith(t.dataDir));
    assert.ok(!conf.some((l) => l.startsWith('replicaof')), 'roles come from the command line, not the file');
  });

  it('single: no replica requirements (there are no replicas)', () => {
    const t = testTopology('single');
    const n = t.redis[0];
    assert.ok(n);
    const conf = lines(redisConfig(t, n));
    assert.ok(conf.includes('appendonly yes'));
    assert.ok(!conf.some((l) => l.startsWith('min-replicas')));
  });

  it('external secrets leave the password out', () => {
    const t = testTopology('ha', { target: 'docker' });
    const n = t.redis[0];
    assert.ok(n);
    const conf = redisConfig(t, n, { secrets: 'external' });
    assert.ok(!conf.includes('requirepass'));
    assert.ok(conf.includes('bind * -::*'));
  });

  it('quotes values the way redis parses them', () => {
    assert.equal(quote('a b'), '"a b"');
    assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  });
});

describe('sentinel.conf', () => {
  it('monitors all three groups with quorum 2, fast failover and auth', () => {
    const t = testTopology('ha');
    const s = t.sentinels[1];
    assert.ok(s);
    const conf = lines(sentinelConfig(t, s));
    assert.ok(conf.includes('bind 127.0.0.1'));
    assert.ok(conf.includes(`port ${s.port}`));
    assert.ok(conf.includes('requirepass "pw-123"'));
    for (const g of SERVICES) {
      const primary = t.redis.find((n) => n.group === g && n.initialPrimary);
      assert.ok(conf.includes(`sentinel monitor ${g} 127.0.0.1 ${primary?.port} 2`));
      assert.ok(conf.includes(`sentinel down-after-milliseconds ${g} 1000`));
      assert.ok(conf.includes(`sentinel auth-pass ${g} "pw-123"`));
      const timeout = conf.find((l) => l.startsWith(`sentinel failover-timeout ${g} `));
      const ms = Number(timeout?.split(' ')[3]);
      assert.ok(ms >= 3000 && ms <= 5000, `failover-timeout ${ms}`);
    }
  });

  it('docker: resolves and announces hostnames', () => {
    const t = testTopology('ha', { target: 'docker' });
    const s = t.sentinels[0];
    assert.ok(s);
    const conf = lines(sentinelConfig(t, s, { secrets: 'external' }));
    assert.ok(conf.includes('sentinel resolve-hostnames yes'));
    assert.ok(conf.includes('sentinel announce-hostnames yes'));
    assert.ok(conf.includes('sentinel monitor order order-redis-0 6379 2'));
    assert.ok(!conf.some((l) => l.includes('pass')));
  });

  it('reads back the primary of the highest config epoch', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-state-'));
    try {
      const t = testTopology('ha', { dataDir: dir });
      const [a, b] = t.sentinels;
      assert.ok(a && b);
      fs.mkdirSync(a.dir, { recursive: true });
      fs.mkdirSync(b.dir, { recursive: true });
      fs.writeFileSync(a.configFile, 'sentinel monitor stock 127.0.0.1 17003 2\nsentinel config-epoch stock 0\n');
      fs.writeFileSync(b.configFile, 'sentinel monitor stock 127.0.0.1 17004 2\nsentinel config-epoch stock 3\n');
      assert.deepEqual(persistedPrimaries(t).get('stock'), { host: '127.0.0.1', port: 17004 });
      assert.equal(persistedPrimaries(t).get('order'), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
