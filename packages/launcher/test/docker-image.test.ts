/**
 * deploy/Dockerfile, checked without a Docker engine: its stages are replayed in an empty
 * temp directory (dockerfile.ts: COPY from the context or an earlier stage, RUN in WORKDIR,
 * `npm ci` as links to the installed node_modules), so a build step that would fail fails
 * here; then the runtime stage's CMD starts each service on real Redis servers and a checkout
 * goes through them, which needs each package's dist/ (its JavaScript and Lua), and only
 * production packages: the image holds no src/, lua/ or tests, so this also proves that a
 * built service needs no source tree at run time. The tools target (the snapshot command)
 * is replayed too: its entry point answers --help and reaches for Sentinels from the built
 * output alone.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ping } from '@shop/common/replication/one-shot.js';
import { USAGE as SNAPSHOT_USAGE } from '../src/snapshot/cli.js';
import { repoRoot } from '../src/entry.js';
import { which } from '../src/prereqs.js';
import { httpStatus, portFree, waitFor } from '@shop/common/probes.js';
import { SERVICES } from '../src/topology.js';
import { dockerignore, parseDockerfile, productionModules, replay, ReplayError, type ReplayedStage, type ReplayOptions } from './dockerfile.js';

const root = repoRoot();
const dockerfile = path.join(root, 'deploy', 'Dockerfile');

/** BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the context's own. */
function ignoreRules(): (rel: string) => boolean {
  for (const f of [`${dockerfile}.dockerignore`, path.join(root, '.dockerignore')]) {
    if (fs.existsSync(f)) return dockerignore(fs.readFileSync(f, 'utf8'));
  }
  return () => false;
}

function options(context: string, workRoot: string): ReplayOptions {
  return {
    context,
    ignored: ignoreRules(),
    workRoot,
    nodeModules: path.join(root, 'node_modules'),
    productionModules: () => productionModules(root),
  };
}

function luaFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.lua')).map((f) => path.join(dir, f));
}

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    // Below the ephemeral range, like the launcher's test blocks.
    const p = randomInt(20_000, 32_000);
    if (!ports.has(p) && (await portFree(p))) ports.add(p);
  }
  return [...ports];
}

/** End of life of Node's LTS lines (nodejs.org/en/about/previous-releases). */
const NODE_EOL: Record<number, string> = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30' };

describe('deploy/Dockerfile runtime', () => {
  it('builds and runs on a Node LTS line that is still supported', () => {
    const lines = [...fs.readFileSync(dockerfile, 'utf8').matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    assert.ok(lines.length >= 2, 'a build stage and a runtime stage, both on node');
    for (const major of lines) {
      const eol = NODE_EOL[major];
      assert.ok(eol !== undefined, `node ${major}: not an LTS line this test knows`);
      assert.ok(new Date() < new Date(eol), `node ${major} reached end of life on ${eol}: move the image to a supported LTS`);
    }
  });
});

describe('deploy/Dockerfile replayed without Docker', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-replay-'));
  let stages: ReplayedStage[] | undefined;
  let failure: unknown;

  before(() => {
    try {
      stages = replay(parseDockerfile(fs.readFileSync(dockerfile, 'utf8')), options(root, path.join(work, 'image')));
    } catch (err) {
      failure = err;
    }
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  const stageNamed = (name: string): { stage: ReplayedStage; app: string } => {
    assert.ok(stages !== undefined, `the image does not build: ${(failure as Error | undefined)?.message ?? '?'}`);
    const stage = stages.find((s) => s.name === name)!;
    return { stage, app: path.join(stage.root, stage.workdir) };
  };
  // The services' image is the last stage: what a build without --target makes.
  const runtime = (): { stage: ReplayedStage; app: string } => stageNamed('service');

  it('builds: every COPY source exists and every RUN (the TypeScript build) succeeds', () => {
    assert.equal(failure, undefined, (failure as Error | undefined)?.message);
    assert.deepEqual(
      stages?.map((s) => s.name),
      ['build', 'build-tools', 'modules', 'tools', 'service'],
    );
  });

  it('tools stage: the snapshot entry point answers --help from the built output, and nothing of the source tree', () => {
    const { stage, app } = stageNamed('tools');
    assert.deepEqual(stage.entrypoint, ['node', 'packages/launcher/dist/src/snapshot/main.js']);
    assert.deepEqual(stage.cmd, ['--help']);
    for (const p of fs.readdirSync(path.join(app, 'packages'))) assert.deepEqual(fs.readdirSync(path.join(app, 'packages', p)).sort(), ['dist', 'package.json'], `packages/${p}`);
    assert.ok(fs.existsSync(path.join(stage.root, 'snapshots')), 'the volume mount point /snapshots');
    const r = spawnSync(process.execPath, [...stage.entrypoint.slice(1), ...stage.cmd], { cwd: app, env: { PATH: process.env.PATH, ...stage.env }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), SNAPSHOT_USAGE.trim());
  });

  it('tools stage: --sentinels mode runs from the built output and fails clearly, final, with no Sentinel to answer', { skip: which('redis-server') === undefined && 'no redis-server' }, async () => {
    const { stage, app } = stageNamed('tools');
    const [closed] = await freePorts(1);
    const out = path.join(work, 'snapshots', 'one');
    const env = { PATH: process.env.PATH, ...stage.env, REDIS_PASSWORD: 'replay-password' };
    const r = spawnSync(process.execPath, [...stage.entrypoint!.slice(1), out, '--sentinels', `127.0.0.1:${closed}`], { cwd: app, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^snapshot \S+: failed \(final\): no Sentinel answered \(Connection is closed\.\): are they running, is REDIS_PASSWORD theirs\?\n$/);
    assert.equal(fs.existsSync(out), false);
  });

  it('the services\' image installs no system package (redis-server is the tools image\'s only)', () => {
    const parsed = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'));
    const apt = parsed.filter((st) => st.instructions.some((i) => i.op === 'RUN' && /apt-get/.test(i.args))).map((st) => st.name);
    assert.deepEqual(apt, ['tools']);
  });

  it('compiles only the services into the image, each package into its own dist/', () => {
    const build = stages?.find((s) => s.name === 'build');
    assert.ok(build !== undefined, 'built');
    const app = path.join(build.root, build.workdir);
    assert.ok(!fs.existsSync(path.join(app, 'dist')), 'no top-level dist/');
    const built = fs.readdirSync(path.join(app, 'packages')).filter((p) => fs.existsSync(path.join(app, 'packages', p, 'dist')));
    assert.deepEqual(built.sort(), ['common', ...SERVICES].sort());
  });

  it('runtime stage: each service entry, every Lua script in its dist/, production packages only, no source tree', () => {
    const { stage, app } = runtime();
    assert.equal(stage.env.NODE_ENV, 'production');
    for (const s of SERVICES) assert.ok(fs.existsSync(path.join(app, 'packages', s, 'dist', 'src', 'main.js')), `${s} entry`);
    const lua = fs.readdirSync(path.join(root, 'packages')).flatMap((p) => luaFiles(path.join(root, 'packages', p, 'lua')));
    assert.ok(lua.length > 5, 'the repository has Lua scripts');
    for (const f of lua) {
      const [, pkg, , ...rest] = path.relative(root, f).split(path.sep);
      assert.ok(fs.existsSync(path.join(app, 'packages', pkg!, 'dist', 'lua', ...rest)), `${path.relative(root, f)} missing from the image's ${pkg}/dist/lua`);
    }
    // A built service needs no source tree: each package is its package.json and its dist/.
    for (const p of fs.readdirSync(path.join(app, 'packages'))) {
      const expected = p === 'launcher' ? ['package.json'] : ['dist', 'package.json'];
      assert.deepEqual(fs.readdirSync(path.join(app, 'packages', p)).sort(), expected, `packages/${p} in the image`);
    }
    assert.deepEqual(fs.readdirSync(app).sort(), ['node_modules', 'package-lock.json', 'package.json', 'packages']);
    // The services import @shop/common from the image's own packages/, as npm links it.
    assert.equal(fs.realpathSync(path.join(app, 'node_modules', '@shop', 'common')), fs.realpathSync(path.join(app, 'packages', 'common')));
    const modules = fs.readdirSync(path.join(app, 'node_modules'));
    assert.ok(modules.includes('fastify') && modules.includes('ioredis'));
    assert.ok(!modules.includes('typescript') && !modules.includes('tsx'), 'no dev dependencies');
    assert.ok(stage.cmd !== undefined, 'a CMD');
  });

  it('runtime stage: its CMD starts each service, and a checkout goes through them', { skip: which('redis-server') === undefined && 'no redis-server' }, async (t) => {
    const { stage, app } = runtime();
    const password = 'replay-password';
    const [r0, r1, r2, ...svcPorts] = await freePorts(9);
    const procs: ChildProcess[] = [];
    const logs = new Map<ChildProcess, string>();
    const launch = (command: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv }): ChildProcess => {
      const p = spawn(command, args, { ...o, stdio: ['ignore', 'pipe', 'pipe'] });
      logs.set(p, '');
      const collect = (d: Buffer): void => void logs.set(p, (logs.get(p) ?? '') + d.toString());
      p.stdout?.on('data', collect);
      p.stderr?.on('data', collect);
      procs.push(p);
      return p;
    };
    t.after(async () => {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve())));
    });

    const redisPorts = { order: r0!, stock: r1!, payment: r2! };
    for (const port of Object.values(redisPorts)) {
      launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no'], {});
    }
    for (const port of Object.values(redisPorts)) {
      await waitFor(`redis on ${port}`, () => ping({ host: '127.0.0.1', port }, password), { timeoutMs: 10_000, intervalMs: 50 });
    }
    const ports = Object.fromEntries(SERVICES.map((s, i) => [s, { public: svcPorts[2 * i]!, internal: svcPorts[2 * i + 1]! }]));
    const [cmd, ...cmdArgs] = stage.cmd!;
    for (const s of SERVICES) {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        ...stage.env,
        SERVICE: s,
        HOST: '127.0.0.1',
        PUBLIC_PORT: String(ports[s]!.public),
        INTERNAL_PORT: String(ports[s]!.internal),
        INTERNAL_SECRET: 'replay-secret',
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(redisPorts[s]),
        REDIS_PASSWORD: password,
        STOCK_URLS: `http://127.0.0.1:${ports.stock!.internal}`,
        PAYMENT_URLS: `http://127.0.0.1:${ports.payment!.internal}`,
      };
      const p = launch(cmd!, cmdArgs, { cwd: app, env });
      await waitFor(`${s} from the image to answer /health`, async () => (await httpStatus(`http://127.0.0.1:${ports[s]!.internal}/health`)) === 200, {
        timeoutMs: 30_000,
        abort: () => (p.exitCode !== null ? `it exited ${p.exitCode}:\n${logs.get(p)}` : undefined),
      });
    }

    const call = async (s: string, method: 'GET' | 'POST', p: string): Promise<Record<string, unknown>> => {
      const res = await fetch(`http://127.0.0.1:${ports[s]!.public}${p}`, { method });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, `${method} ${p}: ${JSON.stringify(body)}`);
      return body;
    };
    const user = (await call('payment', 'POST', '/create_user')).user_id as string;
    await call('payment', 'POST', `/add_funds/${user}/100`);
    const item = (await call('stock', 'POST', '/item/create/7')).item_id as string;
    await call('stock', 'POST', `/add/${item}/10`);
    const order = (await call('order', 'POST', `/create/${user}`)).order_id as string;
    await call('order', 'POST', `/addItem/${order}/${item}/3`);
    assert.deepEqual(await call('order', 'POST', `/checkout/${order}`), { order_id: order, paid: true });
    assert.deepEqual(await call('stock', 'GET', `/find/${item}`), { stock: 7, price: 7 });
    assert.deepEqual(await call('payment', 'GET', `/find_user/${user}`), { user_id: user, credit: 79 });
  });
});

describe('the Dockerfile replay catches what a docker build would fail on', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-replay-fail-'));
  const context = path.join(tmp, 'context');
  fs.mkdirSync(path.join(context, 'src'), { recursive: true });
  fs.writeFileSync(path.join(context, 'src', 'a.txt'), 'a\n');
  fs.mkdirSync(path.join(context, 'dist'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let n = 0;
  const attempt = (text: string): void => {
    const o = { ...options(context, path.join(tmp, `image-${n++}`)), ignored: dockerignore('dist\n**/node_modules\n') };
    replay(parseDockerfile(text), o);
  };

  it('copies from the context and from an earlier stage', () => {
    attempt('FROM x AS one\nWORKDIR /w\nCOPY src ./src\nRUN test -f src/a.txt\nFROM y\nWORKDIR /app\nCOPY --from=one /w/src ./s\nRUN test -f s/a.txt\n');
  });

  it('a COPY of a path missing from the context', () => {
    assert.throws(() => attempt('FROM x\nWORKDIR /w\nCOPY test ./test\n'), (e: Error) => e instanceof ReplayError && /line 3 .*does not exist/s.test(e.message));
  });

  it('a COPY of a path the .dockerignore leaves out of the context', () => {
    assert.throws(() => attempt('FROM x\nCOPY dist ./dist\n'), /does not exist in the build context/);
  });

  it('a RUN that fails', () => {
    assert.throws(() => attempt('FROM x\nWORKDIR /w\nRUN true && \\\n  false\n'), /line 3 .*exit 1/s);
  });

  it('a RUN on this machine\'s system rather than the stage', () => {
    assert.throws(() => attempt('FROM x\nRUN mkdir -p /srv/x\n'), /names a path outside the stage/);
    assert.throws(() => attempt('FROM x\nRUN apt-get install -y no-such-package-here\n'), /no-such-package-here is not installed on this machine/);
  });

  it('a stage FROM an earlier one starts as its copy', () => {
    attempt('FROM x AS one\nWORKDIR /w\nCOPY src ./src\nFROM one\nRUN test -f src/a.txt\n');
  });

  it('an instruction the replay does not know', () => {
    assert.throws(() => attempt('FROM x\nHEALTHCHECK CMD true\n'), /does not know this instruction/);
  });
});
