#!/usr/bin/env node
// Builds (tsc -p tsconfig.build.json) only when a source changed since the last successful
// build, so that `npm start`, `npm run chaos` and `npm run bench` start at once when dist/ is
// current. tsc itself, even incremental, spends seconds finding out that nothing changed;
// this check reads the size and mtime of ~200 files.
//
// The sources: every .ts file under the top-level folders tsconfig.build.json includes (all
// of them, not only the included ones: an included file may import any other), plus the
// tsconfig files and package-lock.json. Their fingerprint is kept in dist/ beside the build,
// so deleting dist/ also forgets it; tsconfig.build.json keeps tsc's own incremental state
// there too. Tests run from source (tsx), so the build excludes them. Run from the
// repository root (npm does).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = process.cwd();
const CONFIG = 'tsconfig.build.json';
const STAMP = path.join('dist', '.sources-fingerprint');
const SKIP = new Set(['node_modules', 'dist', 'data', 'results']);

function topFolders() {
  const config = JSON.parse(fs.readFileSync(path.join(root, CONFIG), 'utf8'));
  return [...new Set((config.include ?? []).map((p) => p.split('/')[0]).filter((d) => d && !d.includes('*')))];
}

function walk(dir, out) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith('.') || SKIP.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
}

function fingerprint() {
  const files = ['package-lock.json', 'tsconfig.json', CONFIG].map((f) => path.join(root, f));
  for (const d of topFolders()) walk(path.join(root, d), files);
  const hash = createHash('sha256');
  for (const f of files.sort()) {
    let st;
    try {
      st = fs.statSync(f);
    } catch {
      continue;
    }
    hash.update(`${path.relative(root, f)}\t${st.size}\t${st.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

function readStamp() {
  try {
    return fs.readFileSync(path.join(root, STAMP), 'utf8').trim();
  } catch {
    return undefined;
  }
}

const before = fingerprint();
if (readStamp() === before) process.exit(0);
process.stderr.write('build: sources changed since the last build; compiling (tsc -p tsconfig.build.json)\n');
const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', CONFIG], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// The fingerprint taken before compiling: a file edited during the build is built next time.
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.writeFileSync(path.join(root, STAMP), `${before}\n`);
