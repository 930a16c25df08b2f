import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ENV_VARS, type ServiceName } from '@shop/common/config.js';
import { composeFile as composeFileOf, deployFiles, dockerTopology, GATEWAY_BIND_REF, SHARDED } from '../src/compose-spec.js';
import { repoRoot } from '../src/entry.js';
import { nginxConfig } from '../src/nginx.js';
import { which } from '../src/prereqs.js';
import { SNAPSHOT_ENTRY } from '../src/snapshot-spec.js';
import { SERVICES } from '../src/topology.js';

const root = repoRoot();

interface ComposeService {
  image?: string;
  build?: { target?: string };
  entrypoint?: string[];
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string> | string[];
  ports?: unknown[];
  networks?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown>;
}

function loadCompose(composeFile: string): { services: Record<string, ComposeService>; networks: Record<string, { internal?: boolean } | null> } {
  return parse(fs.readFileSync(composeFile, 'utf8')) as ReturnType<typeof loadCompose>;
}

/** `stock-s1` is shard 1 of `stock`; `stock` its shard 0. */
const serviceOfGroup = (group: string): string => group.replace(/-s\d+$/, '');

function envOf(s: ComposeService): Record<string, string> {
  const env = s.environment ?? {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

for (const shards of [1, SHARDED]) {
  const composeFile = path.join(root, 'deploy', composeFileOf(shards));

  describe(`deploy/${composeFileOf(shards)}`, () => {
    const compose = loadCompose(composeFile);

    it('gives every service container every variable its config requires', () => {
      let checked = 0;
      for (const [name, svc] of Object.entries(compose.services)) {
        const env = envOf(svc);
        const service = env.SERVICE as ServiceName | undefined;
        if (service === undefined) continue;
        assert.ok(SERVICES.includes(service), `${name}: SERVICE=${service}`);
        checked++;
        for (const [variable, spec] of Object.entries(ENV_VARS)) {
          if (spec.requiredBy.includes(service)) assert.ok(env[variable], `${name} lacks ${variable}`);
        }
      }
      assert.equal(checked, 6, 'two replicas of each of the three services');
    });

    it('publishes no port but the gateway 8000, on loopback unless GATEWAY_BIND opens it, and the operator UIs on loopback', () => {
      const published = Object.entries(compose.services).filter(([, s]) => (s.ports ?? []).length > 0);
      assert.deepEqual(
        published.map(([n, s]) => [n, s.ports]),
        [
          ['gateway', ['${GATEWAY_BIND:-127.0.0.1}:8000:8000']],
          ['grafana', ['127.0.0.1:3000:3000']],
          ['locust-master', ['127.0.0.1:8089:8089']],
        ],
      );
      assert.equal(GATEWAY_BIND_REF, '${GATEWAY_BIND:-127.0.0.1}');
    });

    it('agrees with the README: the gateway is bound to 127.0.0.1', () => {
      const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
      const row = /^\| gateway `:8000` \| `([^`]+)`/m.exec(readme);
      assert.ok(row !== null, 'the trust table has a gateway row');
      assert.equal(row[1], '127.0.0.1');
      assert.match(GATEWAY_BIND_REF, /:-127\.0\.0\.1\}$/);
    });

    it(`runs the HA topology: ${shards} group(s) of 3 Redis per service, 3 Sentinels, Redis on an internal network only`, () => {
      const names = Object.keys(compose.services);
      for (const s of SERVICES) assert.equal(names.filter((n) => new RegExp(`^${s}(-s\\d+)?-redis-\\d$`).test(n)).length, 3 * shards, s);
      assert.equal(names.filter((n) => n.startsWith('sentinel-')).length, 3);
      for (const n of names.filter((x) => x.includes('redis') || x.startsWith('sentinel'))) {
        assert.deepEqual(compose.services[n]?.networks, ['data'], n);
      }
      assert.equal(compose.networks.data?.internal, true);
    });

    it('keeps secrets out of the file', () => {
      const text = fs.readFileSync(composeFile, 'utf8');
      const refs = [...text.matchAll(/(REDIS_PASSWORD|INTERNAL_SECRET|GF_SECURITY_ADMIN_PASSWORD): (.*)$/gm)];
      assert.ok(refs.some((m) => m[1] === 'GF_SECURITY_ADMIN_PASSWORD'), 'Grafana gets its admin password');
      for (const m of refs) assert.match(m[2] ?? '', /^\$\{\w+:\?/);
    });

    it(`the Sentinels watch every group it runs, at its default primary; REDIS_SHARDS=${shards} on every service and Redis server`, () => {
      const groups = new Map<string, string>();
      for (const [name, svc] of Object.entries(compose.services)) {
        const env = envOf(svc);
        if (env.REDIS_GROUP !== undefined) {
          groups.set(env.REDIS_GROUP, env.DEFAULT_PRIMARY ?? '');
          assert.equal(env.REDIS_SHARDS, String(shards), name);
          assert.ok(name.startsWith(`${env.REDIS_GROUP}-redis-`), `${name} in group ${env.REDIS_GROUP}`);
        }
        if (env.SERVICE !== undefined) {
          assert.equal(env.REDIS_SHARDS, String(shards), name);
          assert.equal(env.REDIS_MASTER_NAME, env.SERVICE, name);
        }
      }
      const expected = Array.from({ length: shards }, (_, k) => SERVICES.map((s) => (k === 0 ? s : `${s}-s${k}`))).flat();
      assert.deepEqual([...groups.keys()].sort(), [...expected].sort());
      const sentinels = Object.entries(compose.services).filter(([n]) => n.startsWith('sentinel-'));
      assert.equal(sentinels.length, 3);
      for (const [name, svc] of sentinels) {
        const mount = (svc.volumes ?? []).find((v) => v.split(':')[1]?.endsWith('/sentinel.conf'));
        assert.ok(mount !== undefined, `${name} mounts a sentinel.conf`);
        const conf = fs.readFileSync(path.join(root, 'deploy', mount.split(':')[0] ?? ''), 'utf8');
        const monitored = new Map([...conf.matchAll(/^sentinel monitor (\S+) (\S+) (\d+) 2$/gm)].map((m) => [m[1] ?? '', `${m[2]}:${m[3]}`]));
        assert.deepEqual(monitored, groups, `${name}: ${mount} monitors every group at its default primary, and nothing else`);
        for (const [group, primary] of groups) assert.ok(compose.services[primary.split(':')[0] ?? ''] !== undefined, `${group}'s primary ${primary} is a container`);
        assert.deepEqual((envOf(svc).MASTER_NAMES ?? '').split(' ').sort(), [...groups.keys()].sort(), `${name}: MASTER_NAMES`);
        assert.deepEqual(Object.keys(svc.depends_on ?? {}).filter((n) => n.includes('-redis-')).length, 3 * groups.size, `${name} starts after every Redis server`);
      }
      for (const g of groups.keys()) assert.ok(SERVICES.includes(serviceOfGroup(g) as ServiceName), g);
    });

    it(`runs the snapshot tool only on request (profile tools), through the Sentinels, with --shards ${shards}`, () => {
      const sentinels = Object.keys(compose.services).filter((n) => n.startsWith('sentinel-'));
      const entry = /^ENTRYPOINT (.*)$/m.exec(fs.readFileSync(path.join(root, 'deploy', 'Dockerfile'), 'utf8'));
      assert.deepEqual(JSON.parse(entry?.[1] ?? 'null'), SNAPSHOT_ENTRY, "the Dockerfile's tools ENTRYPOINT");
      for (const name of ['snapshot', 'snapshot-scheduler']) {
        const svc = compose.services[name];
        assert.ok(svc !== undefined, name);
        assert.deepEqual(svc.profiles, ['tools'], name);
        assert.equal(svc.build?.target, 'tools', name);
        assert.deepEqual(svc.networks, ['data'], name);
        assert.deepEqual(svc.volumes, ['snapshots:/snapshots'], name);
        assert.deepEqual(svc.entrypoint, [...SNAPSHOT_ENTRY, '--sentinels', sentinels.map((n) => `${n}:26379`).join(','), '--shards', String(shards)], name);
        assert.match(envOf(svc).REDIS_PASSWORD ?? '', /^\$\{REDIS_PASSWORD:\?/, name);
      }
      assert.deepEqual(compose.services.snapshot?.command, ['/snapshots', '--stamp']);
      assert.deepEqual(compose.services['snapshot-scheduler']?.command, ['/snapshots', '--every', '1h', '--keep', '24']);
      // Only the tools image has redis-server (for the check); the services' image is built without --target.
      for (const svc of Object.values(compose.services).filter((x) => x.image === 'shop-service:latest')) assert.equal(svc.build?.target, undefined);
    });

    it('committed generated files equal what the generator makes now', () => {
      for (const f of deployFiles()) {
        const committed = fs.readFileSync(path.join(root, f.path), 'utf8');
        assert.equal(committed, f.content, `${f.path} is stale: run npx tsx --conditions=source packages/launcher/src/compose.ts`);
      }
      assert.equal(fs.readFileSync(path.join(root, 'deploy', 'nginx.conf'), 'utf8'), nginxConfig(dockerTopology()));
    });

    const dockerCompose = which('docker-compose');
    /** The gateway's published ports as docker-compose resolves them. */
    const resolvedPorts = (extra: Record<string, string>): unknown => {
      const env: NodeJS.ProcessEnv = { ...process.env, REDIS_PASSWORD: 'test-password', INTERNAL_SECRET: 'test-secret', GRAFANA_ADMIN_PASSWORD: 'test-admin' };
      delete env.GATEWAY_BIND;
      Object.assign(env, extra);
      // An empty env file: a developer's deploy/.env must not change what the test sees.
      const empty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compose-env-')), '.env');
      fs.writeFileSync(empty, '');
      // The load and tools profiles too: their services must be valid, though only started on request.
      const args = ['--env-file', empty, '-f', composeFile, '--profile', 'load', '--profile', 'tools', 'config'];
      const r = spawnSync(dockerCompose ?? 'docker-compose', args, { encoding: 'utf8', env, timeout: 30_000 });
      fs.rmSync(path.dirname(empty), { recursive: true, force: true });
      assert.equal(r.status, 0, r.stderr);
      return (parse(r.stdout) as { services: Record<string, ComposeService> }).services.gateway?.ports;
    };

    it('docker-compose config accepts it and publishes on 127.0.0.1, or where GATEWAY_BIND says', { skip: dockerCompose === undefined && 'docker-compose not installed' }, () => {
      assert.match(JSON.stringify(resolvedPorts({})), /127\.0\.0\.1:8000:8000|"host_ip":"127\.0\.0\.1"/);
      assert.match(JSON.stringify(resolvedPorts({ GATEWAY_BIND: '0.0.0.0' })), /0\.0\.0\.0:8000:8000|"host_ip":"0\.0\.0\.0"/);
    });
  });
}
