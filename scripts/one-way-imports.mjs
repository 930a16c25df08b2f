// ESLint rule `one-way/imports`: dependencies point one way, and no module imports itself in a
// cycle. The units are the workspace packages (packages/<name>, published as @shop/<name>)
// and the repository's own consumers: bench/ and test/ (whole-system tests, chaos, checks
// across packages). What each package may import is what its package.json declares, so the
// direction lives in one place, the manifests (services → common, launcher → common and the
// services):
//
//  - A package's code imports another package only by name (`@shop/common/errors.js`), and
//    only one its package.json declares: `dependencies` from src/, those and
//    `devDependencies` from its tests. Never a relative path out of its own folder, never a
//    `/src/` or `/dist/` path, never its own name; `@shop/<name>/testing/...` only from tests.
//  - src/ of a package never imports that package's tests.
//  - bench/ and test/ may import any package (by name); bench/ never imports test/.
//  - The packages' declared dependencies form no cycle: an import of a package that itself
//    depends, directly or not, on the importer fails as a reverse import.
//  - No module cycle: an import fails when the imported module leads back, by runtime
//    imports (`import type` is erased and does not count), to the importing file.
//
// Tested by test/repo/one-way-imports.test.ts on a fixture workspace.
import fs from 'node:fs';
import path from 'node:path';

const IMPORT_RE = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Per repository root: its packages' manifests and the module graph read so far. */
const roots = new Map();

function repoOf(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const cached = roots.get(dir);
    if (cached !== undefined) return cached;
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).workspaces !== undefined) {
      const repo = { root: dir, packages: readPackages(dir), edges: new Map() };
      roots.set(dir, repo);
      return repo;
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** name (`common`) → { deps, devDeps } of every packages/<name>/package.json named @shop/<name>. */
function readPackages(root) {
  const out = new Map();
  const dir = path.join(root, 'packages');
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    const manifest = path.join(dir, name, 'package.json');
    if (!fs.existsSync(manifest)) continue;
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    const shop = (o) => Object.keys(o ?? {}).filter((d) => d.startsWith('@shop/')).map((d) => d.slice('@shop/'.length));
    out.set(name, { declared: m.name, deps: shop(m.dependencies), devDeps: shop(m.devDependencies) });
  }
  return out;
}

/** Where a file belongs: { unit: 'pkg:<name>' | 'bench' | 'test', part: 'src' | 'test' } or undefined (scripts, config). */
function placeOf(repo, file) {
  const rel = path.relative(repo.root, file).split(path.sep);
  if (rel[0] === 'packages' && rel.length > 2) return { unit: `pkg:${rel[1]}`, pkg: rel[1], part: rel[2] === 'src' ? 'src' : 'test' };
  if (rel[0] === 'bench' || rel[0] === 'test') return { unit: rel[0], part: 'test' };
  return undefined;
}

/** Packages `name` depends on, directly or not (declared dependencies and devDependencies). */
function reachable(repo, name) {
  const seen = new Set();
  const stack = [name];
  while (stack.length > 0) {
    const p = repo.packages.get(stack.pop());
    for (const d of [...(p?.deps ?? []), ...(p?.devDeps ?? [])]) {
      if (!seen.has(d)) {
        seen.add(d);
        stack.push(d);
      }
    }
  }
  return seen;
}

/** The file an import names, or undefined (a third-party package, a missing file). */
function resolve(repo, from, spec) {
  let base;
  if (spec.startsWith('.')) base = path.resolve(path.dirname(from), spec);
  else {
    const m = /^@shop\/([^/]+)\/(.+)$/.exec(spec);
    if (m === null) return undefined;
    const sub = m[2].startsWith('testing/') ? path.join('test', 'support', m[2].slice('testing/'.length)) : path.join('src', m[2]);
    base = path.join(repo.root, 'packages', m[1], sub);
  }
  for (const candidate of [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** The files `file` imports at run time (type-only imports left out), read from disk once. */
function runtimeEdges(repo, file) {
  let out = repo.edges.get(file);
  if (out !== undefined) return out;
  out = [];
  repo.edges.set(file, out);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const m of text.matchAll(IMPORT_RE)) {
    if (m[1] !== undefined) continue;
    const target = resolve(repo, file, m[2] ?? m[3]);
    if (target !== undefined) out.push(target);
  }
  return out;
}

/** A path of runtime imports from `start` back to `goal`, or undefined. */
function pathBack(repo, start, goal) {
  const prev = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const f = queue.shift();
    if (f === goal) {
      const chain = [];
      for (let x = f; x !== undefined; x = prev.get(x)) chain.unshift(x);
      return chain;
    }
    for (const t of runtimeEdges(repo, f)) {
      if (!prev.has(t)) {
        prev.set(t, f);
        queue.push(t);
      }
    }
  }
  return undefined;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'dependencies between packages point one way; no import cycles' },
    schema: [],
    messages: {
      leaves: "relative import '{{spec}}' leaves {{unit}}: import another package by its name (@shop/<name>/...)",
      srcPath: "'{{spec}}' names a package's src/ or dist/ folder: import its exported path (@shop/<name>/<module>.js)",
      self: "'{{spec}}': a package imports its own files by relative path, not by its own name",
      undeclared: "'{{spec}}': @shop/{{pkg}} does not declare @shop/{{target}} in its {{field}}",
      reverse: "'{{spec}}' is a reverse import: @shop/{{target}} depends on @shop/{{pkg}}, so this would be a cycle",
      testing: "'{{spec}}': test support is for tests, not for a package's runtime code",
      srcToTest: "'{{spec}}': a package's runtime code (src/) must not import its tests",
      benchToTest: "'{{spec}}': bench/ must not import test/ (the cluster harness and API client are in @shop/launcher)",
      cycle: "'{{spec}}' closes an import cycle: {{chain}}",
    },
  },
  create(context) {
    const file = context.filename;
    const repo = repoOf(file);
    const here = repo === undefined ? undefined : placeOf(repo, file);
    if (repo === undefined || here === undefined) return {};
    const rel = (f) => path.relative(repo.root, f);

    function check(node, spec, typeOnly) {
      const report = (messageId, data = {}) => context.report({ node, messageId, data: { spec, ...data } });
      let target;
      if (spec.startsWith('.')) {
        const abs = path.resolve(path.dirname(file), spec);
        const there = placeOf(repo, abs);
        const consumers = here.pkg === undefined && there !== undefined && there.pkg === undefined;
        if (there === undefined || (there.unit !== here.unit && !consumers)) return report('leaves', { unit: here.pkg !== undefined ? `packages/${here.pkg}` : `${here.unit}/` });
        if (here.part === 'src' && there.part !== 'src') return report('srcToTest');
        if (here.unit === 'bench' && there.unit === 'test') return report('benchToTest');
      } else if (spec.startsWith('@shop/')) {
        const [, name, ...rest] = spec.split('/');
        const sub = rest.join('/');
        if (/(^|\/)(src|dist)(\/|$)/.test(sub)) return report('srcPath');
        if (here.pkg !== undefined) {
          if (name === here.pkg) return report('self');
          const mine = repo.packages.get(here.pkg) ?? { deps: [], devDeps: [] };
          if (reachable(repo, name).has(here.pkg)) return report('reverse', { pkg: here.pkg, target: name });
          const allowed = here.part === 'src' ? mine.deps : [...mine.deps, ...mine.devDeps];
          if (!allowed.includes(name)) {
            return report('undeclared', { pkg: here.pkg, target: name, field: here.part === 'src' ? 'dependencies' : 'dependencies or devDependencies' });
          }
          if (here.part === 'src' && sub.startsWith('testing/')) return report('testing');
        }
      } else return;
      if (typeOnly) return;
      target = resolve(repo, file, spec);
      if (target === undefined) return;
      const back = pathBack(repo, target, file);
      if (back !== undefined) report('cycle', { chain: [file, ...back].map(rel).join(' → ') });
    }

    const typeOnlyOf = (node) => node.importKind === 'type' || node.exportKind === 'type';
    return {
      ImportDeclaration: (node) => check(node, node.source.value, typeOnlyOf(node)),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value, typeOnlyOf(node)),
      ExportAllDeclaration: (node) => check(node, node.source.value, typeOnlyOf(node)),
      ImportExpression: (node) => node.source.type === 'Literal' && typeof node.source.value === 'string' && check(node, node.source.value, false),
    };
  },
};

export default { meta: { name: 'one-way' }, rules: { imports: rule } };
