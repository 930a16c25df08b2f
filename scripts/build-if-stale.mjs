#!/usr/bin/env node
// Builds (scripts/build.mjs: tsc -b tsconfig.build.json, then the packages' Lua into their
// dist/) only when a source changed since the last successful build, so that `npm start`,
// `npm run chaos` and `npm run bench` start at once when the build is current. tsc itself,
// even incremental, spends seconds finding out that nothing changed; this check reads the
// size and mtime of ~250 files.
//
// The sources: every .ts and .lua file, package.json and tsconfig*.json under the top-level
// folders tsconfig.build.json includes and under each project it references (all of them,
// not only the included ones: an included file may import any other), plus the root's
// tsconfig files, package.json and package-lock.json. Their fingerprint is kept in dist/
// beside the build, so deleting dist/ also forgets it, and a referenced project without its
// dist/ is stale too; tsc keeps its own incremental state in each dist/. Tests run from
// source (tsx), so the build excludes them. Run from the repository root (npm does).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { build } from './build.mjs';

const root = process.cwd();
const CONFIG = 'tsconfig.build.json';
const STAMP = path.join('dist', '.sources-fingerprint');
const SKIP = new Set(['node_modules', 'dist', 'data', 'results']);
const SOURCE = /(\.ts|\.lua|^package\.json|^tsconfig.*\.json)$/;

const config = JSON.parse(fs.readFileSync(path.join(root, CONFIG), 'utf8'));
/** The referenced projects' folders (packages/common, ...). */
const projects = (config.references ?? []).map((r) => (r.path.endsWith('.json') ? path.dirname(r.path) : r.path));

function topFolders() {
  const included = (config.include ?? []).map((p) => p.split('/')[0]).filter((d) => d && !d.includes('*'));
  return [...new Set([...included, ...projects])];
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
    else if (SOURCE.test(e.name)) out.push(p);
  }
}

function fingerprint() {
  const files = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', CONFIG].map((f) => path.join(root, f));
  for (const d of topFolders()) walk(path.join(root, d), files);
  const hash = createHash('sha256');
  for (const f of [...new Set(files)].sort()) {
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
if (readStamp() === before && projects.every((p) => fs.existsSync(path.join(root, p, 'dist')))) process.exit(0);
process.stderr.write(`build: sources changed since the last build; compiling (tsc -b ${CONFIG})\n`);
const status = build(root, [CONFIG]);
if (status !== 0) process.exit(status);
// The fingerprint taken before compiling: a file edited during the build is built next time.
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.writeFileSync(path.join(root, STAMP), `${before}\n`);
