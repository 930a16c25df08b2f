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

/**
 * A redis-cli that plays the Sentinels: `SENTINEL master` sent to port P answers the lines
 * of `<sentinels>/P` (one field or value per line, as --raw prints them); no file, no answer.
 */
const FAKE_REDIS_CLI = `#!/bin/sh
while [ $# -gt 0 ]; do case $1 in -p) port=$2; shift 2 ;; *) shift ;; esac; done
[ -f "$FAKE_SENTINELS/$port" ] || exit 1
cat "$FAKE_SENTINELS/$port"
`;

function run(script: string, c: { data: string; etc: string }, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const text = fs
    .readFileSync(path.join(root, 'deploy', 'redis', script), 'utf8')
    .replaceAll('/usr/local/etc/redis', c.etc)
    .replaceAll('/data', c.data);
  const bin = path.join(path.dirname(c.data), 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'docker-entrypoint.sh'), '#!/bin/sh\necho "started: $*"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'redis-cli'), FAKE_REDIS_CLI, { mode: 0o755 });
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

describe('redis-entrypoint.sh starts in the role the Sentinels give it', () => {
  /** Three Sentinels on ports 1-3; `records[i]` is what Sentinel i+1 says, undefined for no answer. */
  const sentinels = (c: { data: string }, records: ({ epoch: number; primary: string; flags?: string } | undefined)[]): string => {
    const dir = path.join(path.dirname(c.data), 'sentinels');
    fs.mkdirSync(dir, { recursive: true });
    records.forEach((r, i) => {
      if (r === undefined) return;
      const [ip, port] = r.primary.split(':');
      const fields = ['name', 'stock', 'ip', ip, 'port', port, 'runid', 'x', 'flags', r.flags ?? 'master', 'config-epoch', String(r.epoch)];
      fs.writeFileSync(path.join(dir, String(i + 1)), `${fields.join('\n')}\n`);
    });
    return dir;
  };
  const env = (dir: string): Record<string, string> => ({
    REDIS_PASSWORD: 'pw',
    REDIS_GROUP: 'stock',
    SELF_HOST: 'stock-redis-2',
    SELF_PORT: '6379',
    DEFAULT_PRIMARY: 'stock-redis-0:6379',
    SENTINELS: '127.0.0.1:1 127.0.0.1:2 127.0.0.1:3',
    REDIS_SHARDS: '1',
    FAKE_SENTINELS: dir,
  });

  it('follows the latest record of a majority: a higher epoch, and at the same epoch one not mid-failover', () => {
    const c = container();
    const dir = sentinels(c, [
      { epoch: 4, primary: 'stock-redis-0:6379', flags: 'master,failover_in_progress' },
      { epoch: 4, primary: 'stock-redis-1:6379' },
      { epoch: 3, primary: 'stock-redis-0:6379' },
    ]);
    const r = run('redis-entrypoint.sh', c, env(dir));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /started: redis-server .* --replicaof stock-redis-1 6379$/m);
  });

  it('starts a replica without its own AOF, kept aside (replacing an older copy); a primary keeps it', () => {
    const c = container();
    const aof = path.join(c.data, 'appendonlydir');
    const aside = path.join(c.data, 'appendonlydir.before-resync');
    fs.mkdirSync(aof);
    fs.writeFileSync(path.join(aof, 'appendonly.aof.1.base.rdb'), 'new');
    fs.mkdirSync(aside);
    fs.writeFileSync(path.join(aside, 'old'), 'old');
    const dir = sentinels(c, [{ epoch: 2, primary: 'stock-redis-0:6379' }, { epoch: 2, primary: 'stock-redis-0:6379' }, undefined]);
    const r = run('redis-entrypoint.sh', c, env(dir));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--replicaof stock-redis-0 6379$/m);
    assert.ok(!fs.existsSync(aof));
    assert.deepEqual(fs.readdirSync(aside), ['appendonly.aof.1.base.rdb']);

    // The group's default primary, no Sentinel answering (the deployment's first start): it loads its AOF.
    fs.mkdirSync(aof);
    const primary = run('redis-entrypoint.sh', c, { ...env(path.join(c.data, 'no-sentinels')), SELF_HOST: 'stock-redis-0' });
    assert.equal(primary.status, 0, primary.stderr);
    assert.match(primary.stdout, /started: redis-server/);
    assert.doesNotMatch(primary.stdout, /--replicaof/);
    assert.ok(fs.existsSync(aof));
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
