/**
 * `npm start` (and chaos, bench) build through scripts/build-if-stale.mjs: it must compile
 * whenever a source changed and skip tsc when nothing did. Exercised on a tiny project of its
 * own, so the repository's dist/ is never touched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../src/entry.js';

const root = repoRoot();

function project(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'build-if-stale-'));
  const write = (f: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  };
  const compilerOptions = { module: 'NodeNext', target: 'ES2022', strict: true, types: [], skipLibCheck: true };
  // A workspace like the repository's: a package `p` with Lua scripts, referenced by the root
  // build, which compiles src/ itself.
  write('package.json', JSON.stringify({ type: 'module', workspaces: ['packages/p'] }));
  write('package-lock.json', '{}\n');
  write('tsconfig.json', JSON.stringify({ compilerOptions }));
  write('tsconfig.build.json', JSON.stringify({
    extends: './tsconfig.json',
    compilerOptions: { rootDir: '.', outDir: 'dist', incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' },
    include: ['src/**/*.ts'],
    references: [{ path: 'packages/p/tsconfig.build.json' }],
  }));
  write('packages/p/package.json', JSON.stringify({ name: 'p', type: 'module' }));
  write('packages/p/tsconfig.build.json', JSON.stringify({
    extends: '../../tsconfig.json',
    compilerOptions: { composite: true, rootDir: '.', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo' },
    include: ['src/**/*.ts'],
  }));
  write('packages/p/src/p.ts', 'export const p: number = 1;\n');
  write('packages/p/lua/s.lua', 'return 1\n');
  write('src/a.ts', 'export const a: number = 1;\n');
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  // build-if-stale.mjs runs build.mjs beside it: the repository's scripts, on this project.
  fs.mkdirSync(path.join(dir, 'scripts'));
  for (const f of ['build-if-stale.mjs', 'build.mjs']) fs.copyFileSync(path.join(root, 'scripts', f), path.join(dir, 'scripts', f));
  return dir;
}

function run(dir: string): { status: number | null; compiled: boolean; ms: number; stderr: string } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-if-stale.mjs')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, compiled: r.stderr.includes('compiling'), ms: Date.now() - t0, stderr: r.stderr + r.stdout };
}

describe('build-if-stale', () => {
  const dir = project();
  const out = path.join(dir, 'dist', 'src', 'a.js');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('compiles the first time, then skips tsc while nothing changed', () => {
    const first = run(dir);
    assert.equal(first.status, 0, first.stderr);
    assert.ok(first.compiled);
    assert.match(fs.readFileSync(out, 'utf8'), /a = 1/);
    const built = fs.statSync(out).mtimeMs;
    const again = run(dir);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stderr, '', 'says and does nothing');
    assert.equal(fs.statSync(out).mtimeMs, built);
    assert.ok(again.ms < 2000, `an up-to-date check took ${again.ms} ms`);
  });

  it('compiles again after an edit, a new file, or a deleted dist/', () => {
    fs.writeFileSync(path.join(dir, 'src', 'a.ts'), 'export const a: number = 2;\n');
    assert.ok(run(dir).compiled);
    assert.match(fs.readFileSync(out, 'utf8'), /a = 2/);

    fs.writeFileSync(path.join(dir, 'src', 'b.ts'), 'export const b: number = 3;\n');
    assert.ok(run(dir).compiled);
    assert.ok(fs.existsSync(path.join(dir, 'dist', 'src', 'b.js')));

    fs.rmSync(path.join(dir, 'dist'), { recursive: true });
    assert.ok(run(dir).compiled);
    assert.ok(fs.existsSync(out));
    assert.equal(run(dir).compiled, false);
  });

  it("builds a referenced package into its own dist/, with its Lua, and again after an edit of either or a deleted dist/", () => {
    const pkgOut = path.join(dir, 'packages', 'p', 'dist', 'src', 'p.js');
    const lua = path.join(dir, 'packages', 'p', 'dist', 'lua', 's.lua');
    assert.equal(run(dir).status, 0);
    assert.match(fs.readFileSync(pkgOut, 'utf8'), /p = 1/);
    assert.equal(fs.readFileSync(lua, 'utf8'), 'return 1\n');

    fs.writeFileSync(path.join(dir, 'packages', 'p', 'src', 'p.ts'), 'export const p: number = 2;\n');
    assert.ok(run(dir).compiled);
    assert.match(fs.readFileSync(pkgOut, 'utf8'), /p = 2/);

    fs.writeFileSync(path.join(dir, 'packages', 'p', 'lua', 's.lua'), 'return 2\n');
    assert.ok(run(dir).compiled);
    assert.equal(fs.readFileSync(lua, 'utf8'), 'return 2\n');

    fs.rmSync(path.join(dir, 'packages', 'p', 'dist'), { recursive: true });
    assert.ok(run(dir).compiled);
    assert.ok(fs.existsSync(pkgOut) && fs.existsSync(lua));
    assert.equal(run(dir).compiled, false);
  });

  it('fails like tsc on a type error, and tries again next time', () => {
    fs.writeFileSync(path.join(dir, 'src', 'a.ts'), 'export const a: number = "not a number";\n');
    const broken = run(dir);
    assert.notEqual(broken.status, 0);
    assert.match(broken.stderr, /TS2322/);
    assert.notEqual(run(dir).status, 0, 'a failed build is not recorded as current');
    fs.writeFileSync(path.join(dir, 'src', 'a.ts'), 'export const a: number = 4;\n');
    const fixed = run(dir);
    assert.equal(fixed.status, 0, fixed.stderr);
    assert.match(fs.readFileSync(out, 'utf8'), /a = 4/);
  });
});
