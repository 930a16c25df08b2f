/**
 * deploy/redis/*-entrypoint.sh, run by sh with their /data and /usr/local/etc/redis moved
 * to temporary directories and the image's docker-entrypoint.sh replaced by one that prints
 * what it would have started: the guards that keep a deployment off volumes made for
 * another shard count (docs/sharding.md: N is fixed for the data's life).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { deployFiles, sentinelConfFile, SHARDED } from '../src/compose-spec.js';
import { repoRoot } from '../src/entry.js';

const root = repoRoot();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'entrypoints-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

let runs = 0;
/** A fresh pair of directories standing in for a container's volume and its mounted configs. */
function container(): { data: string; etc: string } {
  const dir = path.join(scratch, String(runs++));
  const c = { data: path.join(dir, 'data'), etc: path.join(dir, 'etc') };
  for (const d of Object.values(c)) fs.mkdirSync(d, { recursive: true });
  return c;
}

function run(script: string, c: { data: string; etc: string }, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const text = fs
    .readFileSync(path.join(root, 'deploy', 'redis', script), 'utf8')
    .replaceAll('/usr/local/etc/redis', c.etc)
    .replaceAll('/data', c.data);
  const bin = path.join(path.dirname(c.data), 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'docker-entrypoint.sh'), '#!/bin/sh\necho "started: $*"\n', { mode: 0o755 });
  const file = path.join(path.dirname(c.data), script);
  fs.writeFileSync(file, text);
  const r = spawnSync('sh', [file], { encoding: 'utf8', timeout: 20_000, env: { PATH: `${bin}:${process.env.PATH ?? ''}`, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const generated = (p: string): string => {
  const f = deployFiles().find((x) => x.path === `deploy/${p}`);
  assert.ok(f !== undefined, p);
  return f.content;
};

describe('redis-entrypoint.sh keeps the shard count with the data', () => {
  // No Sentinel answers on port 1: the server starts as its group's default primary.
  const env = (shards: number): Record<string, string> => ({
    REDIS_PASSWORD: 'pw',
    REDIS_GROUP: 'stock',
    SELF_HOST: 'stock-redis-0',
    SELF_PORT: '6379',
    DEFAULT_PRIMARY: 'stock-redis-0:6379',
    SENTINELS: '127.0.0.1:1',
    REDIS_SHARDS: String(shards),
  });

  it('records the count on a fresh volume, and starts again under the same count', () => {
    const c = container();
    const first = run('redis-entrypoint.sh', c, env(SHARDED));
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /started: redis-server/);
    assert.equal(fs.readFileSync(path.join(c.data, 'shop-shards'), 'utf8').trim(), String(SHARDED));
    assert.equal(run('redis-entrypoint.sh', c, env(SHARDED)).status, 0);
  });

  it('refuses a volume recorded for another count', () => {
    const c = container();
    assert.equal(run('redis-entrypoint.sh', c, env(1)).status, 0);
    const r = run('redis-entrypoint.sh', c, env(SHARDED));
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stdout, /started/);
    assert.match(r.stderr, new RegExp(`laid out for 1 shard\\(s\\), and REDIS_SHARDS is ${SHARDED}`));
  });

  it('takes data from before the count was recorded for one shard', () => {
    const c = container();
    fs.mkdirSync(path.join(c.data, 'appendonlydir'));
    assert.equal(run('redis-entrypoint.sh', c, env(SHARDED)).status, 1);
    assert.ok(!fs.existsSync(path.join(c.data, 'shop-shards')), 'a refusal records nothing');
    assert.equal(run('redis-entrypoint.sh', c, env(1)).status, 0);
    assert.equal(fs.readFileSync(path.join(c.data, 'shop-shards'), 'utf8').trim(), '1');
  });
});

describe('sentinel-entrypoint.sh watches the groups MASTER_NAMES names, or refuses', () => {
  const one = ['order', 'stock', 'payment'];
  const all = [...one, ...Array.from({ length: SHARDED - 1 }, (_, k) => one.map((s) => `${s}-s${k + 1}`)).flat()];
  const env = (groups: string[]): Record<string, string> => ({ REDIS_PASSWORD: 'pw', MASTER_NAMES: groups.join(' '), SELF_HOST: 'sentinel-0' });
  const mount = (c: { etc: string }, shards: number): void => fs.writeFileSync(path.join(c.etc, 'sentinel.conf'), generated(sentinelConfFile(shards)));

  it('copies the sharded template once, with a password for every group, and starts on its copy after', () => {
    const c = container();
    mount(c, SHARDED);
    const r = run('sentinel-entrypoint.sh', c, env(all));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /started: redis-server .*sentinel\.conf --sentinel/);
    const copy = fs.readFileSync(path.join(c.data, 'sentinel.conf'), 'utf8');
    for (const g of all) assert.match(copy, new RegExp(`^sentinel auth-pass ${g} "pw"$`, 'm'));
    assert.equal(run('sentinel-entrypoint.sh', c, env(all)).status, 0);
  });

  it('refuses a template that watches fewer groups than MASTER_NAMES, copying nothing', () => {
    const c = container();
    mount(c, 1);
    const r = run('sentinel-entrypoint.sh', c, env(all));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refusing to start/);
    assert.ok(!fs.existsSync(path.join(c.data, 'sentinel.conf')));
  });

  it('refuses a volume kept from a deployment with another shard count', () => {
    const c = container();
    mount(c, 1);
    assert.equal(run('sentinel-entrypoint.sh', c, env(one)).status, 0);
    // The same volume under the sharded deployment: its copy still watches shard 0 only.
    mount(c, SHARDED);
    const r = run('sentinel-entrypoint.sh', c, env(all));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /A changed shard count needs a fresh data set/);
  });
});
