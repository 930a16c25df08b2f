#!/usr/bin/env node
// The build: `tsc -b` of the given project files (default: tsconfig.build.json, which
// references every package and compiles bench/ and the chaos runner into dist/), then each
// built package's Lua scripts copied from `<package>/lua/` to `<package>/dist/lua/`, where
// the built code loads them (packages/common/src/lua.ts): a built package needs no source.
//
//   node scripts/build.mjs [tsconfig ...]        run from the repository root (npm does)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Builds; returns tsc's exit status (0 when every project built and its Lua was copied). */
export function build(root, configs = ['tsconfig.build.json']) {
  const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-b', ...configs], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) return r.status ?? 1;
  copyLua(root);
  return 0;
}

/** `<package>/lua/` → `<package>/dist/lua/` for every package that has both (stale copies removed). */
export function copyLua(root) {
  const packages = path.join(root, 'packages');
  if (!fs.existsSync(packages)) return;
  for (const p of fs.readdirSync(packages)) {
    const lua = path.join(packages, p, 'lua');
    const dist = path.join(packages, p, 'dist');
    if (!fs.existsSync(lua) || !fs.existsSync(dist)) continue;
    fs.rmSync(path.join(dist, 'lua'), { recursive: true, force: true });
    fs.cpSync(lua, path.join(dist, 'lua'), { recursive: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const configs = process.argv.slice(2);
  process.exit(build(process.cwd(), configs.length > 0 ? configs : undefined));
}
