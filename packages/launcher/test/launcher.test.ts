/**
 * The real `npm start` entry, end to end: a 'single' layout with real Redis and nginx (and
 * the real services when they exist, else tiny stand-ins) on free ports; then a clean stop.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findServiceEntry, repoRoot } from '../src/entry.js';
import { pidAlive } from '../src/lock.js';
import { localTopology } from '../src/local.js';
import { withFreePorts } from '../src/ports.js';
import { which } from '../src/prereqs.js';
import { portFree, waitFor } from '@shop/common/probes.js';
import { FROM_SOURCE, listeningPorts, SERVICES, type Topology } from '../src/topology.js';
import { openToOthers, umaskOf } from './modes.js';

const root = repoRoot();
const realServices = findServiceEntry() !== undefined;
const missing = ['redis-server', 'nginx'].filter((b) => which(b) === undefined);

const STAND_IN = `import http from 'node:http';
const env = process.env;
const serve = (port, extra) => http.createServer((req, res) => {
  const body = extra(req) ?? { replica: env.REPLICA_ID, url: req.url };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}).listen(Number(port), env.HOST);
serve(env.PUBLIC_PORT, () => undefined);
serve(env.INTERNAL_PORT, (req) => (req.url === '/health' || req.url === '/ready' ? { ok: true } : undefined));
`;

function writeStandIns(dir: string): void {
  for (const s of SERVICES) {
    fs.mkdirSync(path.join(dir, s, 'dist', 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, s, 'dist', 'src', 'main.js'), STAND_IN);
  }
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
}

function launcherArgs(t: Topology, dataDir: string): string[] {
  const base = Math.min(...t.redis.map((n) => n.port));
  return [...FROM_SOURCE, path.join(root, 'packages', 'launcher', 'src', 'main.ts'), '--layout', 'single', '--replicas', '1',
    '--port', String(t.gateway.port), '--base-port', String(base), '--data-dir', dataDir, '--console-port', String(consolePort(t))];
}

/** The operator console's port: the free slot after the gateway's in the cluster's own block (ports.ts). */
const consolePort = (t: Topology): number => t.gateway.port + 1;

describe('launcher main (single layout)', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-test-'));
  const dataDir = path.join(tmp, 'data');
  const standIns = path.join(tmp, 'services');
  const env: NodeJS.ProcessEnv = { ...process.env };
  let topology: Topology;
  let launcher: ChildProcess;
  let exited: Promise<number | null>;
  let stdout = '';
  let stderr = '';

  before(async () => {
    if (!realServices) {
      writeStandIns(standIns);
      env.SHOP_SERVICE_ENTRY_DIR = standIns;
    }
    topology = await withFreePorts((basePort, gatewayPort) =>
      localTopology({
        layout: 'single', replicas: 1, gatewayPort, basePort, dataDir,
        secrets: { password: 'x', internalSecret: 'y' },
        binaries: { redisServer: 'redis-server', redisSentinel: 'redis-sentinel', nginx: 'nginx', node: process.execPath },
        serviceEntry: undefined, repoRoot: root,
      }),
    );
    launcher = spawn(process.execPath, launcherArgs(topology, dataDir), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    launcher.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => launcher.once('exit', (code) => resolve(code)));
    await waitFor('the launcher to print the gateway URL', () => Promise.resolve(stdout.includes('Gateway: ')), {
      timeoutMs: 60_000,
      abort: () => (launcher.exitCode !== null ? `launcher exited ${launcher.exitCode}:\n${stderr}` : undefined),
    });
  });

  after(() => {
    if (launcher.exitCode === null) launcher.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('prints what it started and the gateway URL', () => {
    assert.ok(stdout.includes(`Gateway: http://127.0.0.1:${topology.gateway.port}`), stdout);
    for (const name of ['order-redis-0', 'stock-0', 'payment-0', 'gateway']) assert.match(stdout, new RegExp(`^${name} `, 'm'));
  });

  it('serves the operator console on its own loopback port, printed at start', async () => {
    const url = `http://127.0.0.1:${consolePort(topology)}`;
    assert.ok(stdout.includes(`Console: ${url}`), stdout);
    let state: { layout: string; processes: { name: string; state: string }[]; groups: { group: string; primary: string | null }[] } | undefined;
    await waitFor('the console to have sampled the cluster', async () => {
      state = (await (await fetch(`${url}/api/state`)).json()) as typeof state;
      return (state?.groups.length ?? 0) > 0;
    }, { timeoutMs: 10_000 });
    assert.equal(state?.layout, 'single');
    assert.deepEqual(state.groups.map((g) => g.primary), ['order-redis-0', 'stock-redis-0', 'payment-redis-0']);
    assert.ok(state.processes.some((p) => p.name === 'gateway' && p.state === 'running'));
    assert.match(await (await fetch(url)).text(), /<title>Shop console<\/title>/);
  });

  it('answers an unknown route through the gateway with JSON 404', async () => {
    const res = await fetch(`${topology.gateway.url}/no/such/route`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(((await res.json()) as { code: string }).code, 'NOT_FOUND');
  });

  it('reaches a service through the gateway', async () => {
    const res = await fetch(`${topology.gateway.url}/stock/find/no-such-item`);
    assert.ok(res.status < 500, `status ${res.status}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  });

  it('keeps its data dir owner-only: secrets, configs, AOFs, logs, pid files; children under umask 077', () => {
    const files = fs.readdirSync(dataDir, { recursive: true, encoding: 'utf8' });
    for (const want of ['secrets.json', 'launcher.lock', 'logs/gateway.log', 'run/nginx/nginx.pid', 'run/children.json']) {
      assert.ok(files.includes(want), `no ${want}`);
    }
    assert.ok(files.some((f) => /appendonlydir\/.+\.aof$/.test(f)), 'an AOF');
    assert.deepEqual(openToOthers(dataDir), []);
    const pids = [...stdout.matchAll(/^\S+\s+(?:redis|service|nginx)\s+(\d+)\s/gm)].map((m) => Number(m[1]));
    for (const pid of pids) assert.equal(umaskOf(pid), 0o077, `pid ${pid}`);
  });

  it('refuses a second launcher on the same data dir', () => {
    const r = spawnSync(process.execPath, launcherArgs(topology, dataDir), { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /already running/);
  });

  it('stops everything on SIGTERM: no child alive, no port listening', async () => {
    const pids = [...stdout.matchAll(/^\S+\s+(?:redis|sentinel|service|nginx)\s+(\d+)\s/gm)].map((m) => Number(m[1]));
    assert.ok(pids.length >= 7, `pids from the table: ${pids.join(',')}`);
    launcher.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    for (const pid of pids) assert.ok(!pidAlive(pid), `pid ${pid} still alive`);
    for (const port of [...listeningPorts(topology), consolePort(topology)]) assert.ok(await portFree(port), `port ${port} still in use`);
    assert.ok(!fs.existsSync(path.join(dataDir, 'launcher.lock')), 'lock released');
  });
});
