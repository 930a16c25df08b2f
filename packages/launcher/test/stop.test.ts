/**
 * Stopping `npm start` the ways people and scripts do: Ctrl-C in a terminal, SIGTERM to the
 * npm process (`kill $!`, a supervisor), SIGTERM to the launcher after its output pipe closed
 * (`npm start 2>&1 | head`). Each must stop every child promptly and release the lock.
 * Layout 'single' with one replica keeps each start light.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { repoRoot } from '../src/entry.js';
import { pidAlive } from '../src/lock.js';
import { localTopology } from '../src/local.js';
import { withFreePorts } from '../src/ports.js';
import { which } from '../src/prereqs.js';
import { portFree, sleep, waitFor } from '@shop/common/probes.js';
import { listeningPorts, type Topology } from '../src/topology.js';

const root = repoRoot();
const missing = ['redis-server', 'nginx'].filter((b) => which(b) === undefined);
/** What "promptly" means: the stop itself takes well under a second here. */
const PROMPT_MS = 3000;

interface Started {
  npm: ChildProcess;
  npmExited: Promise<void>;
  launcherPid: number;
  childPids: number[];
  topology: Topology;
  dataDir: string;
  output: () => string;
}

async function freeTopology(dataDir: string): Promise<Topology> {
  return withFreePorts((basePort, gatewayPort) =>
    localTopology({
      layout: 'single', replicas: 1, gatewayPort, basePort, dataDir,
      secrets: { password: 'x', internalSecret: 'y' },
      binaries: { redisServer: 'redis-server', redisSentinel: 'redis-sentinel', nginx: 'nginx', node: process.execPath },
      serviceEntry: undefined, repoRoot: root,
    }),
  );
}

/** `npm start` in its own process group, as a terminal runs a foreground job; its output collected. */
async function spawnNpm(tmp: string, name: string, reuse?: Topology): Promise<Omit<Started, 'launcherPid' | 'childPids'>> {
  const dataDir = path.join(tmp, name);
  const topology = reuse ?? (await freeTopology(dataDir));
  const base = Math.min(...topology.redis.map((n) => n.port));
  const args = ['start', '--', '--layout', 'single', '--replicas', '1', '--port', String(topology.gateway.port),
    '--base-port', String(base), '--data-dir', dataDir, '--console-port', String(topology.gateway.port + 1)];
  const npm = spawn('npm', args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  npm.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const npmExited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
  return { npm, npmExited, topology, dataDir, output: () => out };
}

const launcherPidOf = (dataDir: string): number => Number(fs.readFileSync(path.join(dataDir, 'launcher.lock'), 'utf8').trim());

/** `npm start`, once it has started everything. */
async function startNpm(tmp: string, name: string, reuse?: Topology): Promise<Started> {
  const s = await spawnNpm(tmp, name, reuse);
  // The first start may compile (build-if-stale) before launching.
  await waitFor('npm start to print the gateway URL', () => Promise.resolve(s.output().includes('Gateway: ')), {
    timeoutMs: 120_000,
    abort: () => (s.npm.exitCode !== null ? `npm exited ${s.npm.exitCode}:\n${s.output()}` : undefined),
  });
  const childPids = recordedChildren(s.dataDir);
  assert.equal(childPids.length, 7, 'three Redis, three services, nginx');
  return { ...s, launcherPid: launcherPidOf(s.dataDir), childPids };
}

/** The children a launcher recorded in its data dir (none if it recorded none yet). */
function recordedChildren(dataDir: string): number[] {
  try {
    const children = JSON.parse(fs.readFileSync(path.join(dataDir, 'run', 'children.json'), 'utf8')) as Record<string, { pid: number }>;
    return Object.values(children).map((c) => c.pid);
  } catch {
    return [];
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (pidAlive(pid)) {
    if (Date.now() - t0 > timeoutMs) return Infinity;
    await sleep(20);
  }
  return Date.now() - t0;
}

async function assertAllStopped(s: Started): Promise<void> {
  for (const pid of s.childPids) assert.ok(!pidAlive(pid), `child pid ${pid} still alive`);
  for (const port of listeningPorts(s.topology)) assert.ok(await portFree(port), `port ${port} still in use`);
  assert.ok(!fs.existsSync(path.join(s.dataDir, 'launcher.lock')), 'lock released');
}

describe('stopping npm start (single layout)', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-stop-'));
  const started: Started[] = [];
  const start = async (name: string, reuse?: Topology): Promise<Started> => {
    const s = await startNpm(tmp, name, reuse);
    started.push(s);
    return s;
  };

  after(() => {
    // Whatever a failed test left: the launcher first (it stops its children), then npm.
    for (const s of started) {
      for (const pid of [s.launcherPid, s.npm.pid]) {
        if (pid !== undefined && pidAlive(pid)) process.kill(pid, 'SIGKILL');
      }
      for (const pid of [...s.childPids, ...recordedChildren(s.dataDir)]) if (pidAlive(pid)) process.kill(-pid, 'SIGKILL');
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('Ctrl-C (SIGINT to the foreground group): launcher and npm exit within 3 s, everything stopped', async () => {
    const s = await start('ctrl-c');
    const t0 = Date.now();
    process.kill(-s.npm.pid!, 'SIGINT');
    const launcherMs = await waitGone(s.launcherPid, 20_000);
    assert.ok(launcherMs < PROMPT_MS, `launcher exited ${launcherMs} ms after the signal:\n${s.output()}`);
    await s.npmExited;
    assert.ok(Date.now() - t0 < PROMPT_MS, `npm (the prompt) returned ${Date.now() - t0} ms after the signal`);
    assert.match(s.output(), /\[launcher\] stopped/);
    await assertAllStopped(s);
  });

  it('Ctrl-C while it is still starting: launcher and npm exit within 3 s, nothing left running', async () => {
    const spawned = await spawnNpm(tmp, 'ctrl-c-starting');
    // Interrupted while its first Redis comes up: the start-up waits must not outlast the stop.
    await waitFor('the launcher to start starting', () => Promise.resolve(spawned.output().includes('starting the single layout')), { timeoutMs: 120_000 });
    const s: Started = { ...spawned, launcherPid: launcherPidOf(spawned.dataDir), childPids: [] };
    started.push(s);
    const t0 = Date.now();
    process.kill(-s.npm.pid!, 'SIGINT');
    const launcherMs = await waitGone(s.launcherPid, 30_000);
    assert.ok(launcherMs < PROMPT_MS, `launcher exited ${launcherMs} ms after the signal:\n${s.output()}`);
    await s.npmExited;
    assert.ok(Date.now() - t0 < PROMPT_MS, `npm returned ${Date.now() - t0} ms after the signal`);
    assert.doesNotMatch(s.output(), /Gateway: /, 'it was stopped before it had started');
    for (const port of listeningPorts(s.topology)) assert.ok(await portFree(port), `port ${port} still in use`);
    assert.ok(!fs.existsSync(path.join(s.dataDir, 'launcher.lock')), 'lock released');
  });

  it('SIGTERM to the npm process alone stops everything, and npm waits for it', async () => {
    const s = await start('sigterm-npm');
    const t0 = Date.now();
    s.npm.kill('SIGTERM');
    await s.npmExited;
    const npmMs = Date.now() - t0;
    assert.ok(!pidAlive(s.launcherPid), 'the launcher exited before npm did');
    // Rarely 5.1 s (a child SIGKILLed at the end of its 5 s grace): the output names which.
    assert.ok(npmMs < PROMPT_MS, `npm exited ${npmMs} ms after the signal:\n${s.output()}`);
    await assertAllStopped(s);
  });

  it('SIGKILL of npm: the launcher notices its parent is gone and stops everything', async () => {
    const s = await start('sigkill-npm');
    s.npm.kill('SIGKILL');
    const launcherMs = await waitGone(s.launcherPid, 20_000);
    assert.ok(launcherMs < PROMPT_MS, `launcher exited ${launcherMs} ms after npm died`);
    await assertAllStopped(s);
  });

  it('SIGKILL of the launcher under load, then npm start again at once: it ends what was left and starts on the same ports', async () => {
    const first = await start('sigkill-launcher');
    // Load: many keep-alive clients, so the servers die with connections open.
    const agent = new Agent({ connections: 64 });
    let loading = true;
    const load = Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        while (loading) {
          await request(`${first.topology.gateway.url}/stock/find/${i}`, { dispatcher: agent }).then(
            (r) => r.body.dump(),
            () => sleep(10),
          );
        }
      }),
    );
    await sleep(1_000);
    process.kill(first.launcherPid, 'SIGKILL');
    await waitGone(first.launcherPid, 5_000);
    // Its children go on serving, by design, until the next launcher ends them.
    assert.ok(first.childPids.some(pidAlive), 'the children outlive a SIGKILLed launcher');
    try {
      const second = await start('sigkill-launcher', first.topology);
      assert.match(second.output(), /killed processes left by the previous launcher/);
      assert.doesNotMatch(second.output(), /in use/);
      for (const pid of first.childPids) assert.ok(!pidAlive(pid), `old child ${pid} still alive`);
      process.kill(-second.npm.pid!, 'SIGINT');
      await second.npmExited;
      await assertAllStopped(second);
    } finally {
      loading = false;
      await load;
      await agent.close();
    }
  });

  it('a closed output pipe (npm start 2>&1 | head) does not keep SIGTERM from stopping everything', async () => {
    const s = await start('closed-pipe');
    // What head does once it has read enough: the read ends close, later writes get EPIPE.
    s.npm.stdout?.destroy();
    s.npm.stderr?.destroy();
    await sleep(100);
    process.kill(s.launcherPid, 'SIGTERM');
    const launcherMs = await waitGone(s.launcherPid, 20_000);
    assert.ok(launcherMs < PROMPT_MS, `launcher exited ${launcherMs} ms after the signal`);
    await assertAllStopped(s);
  });
});
