/**
 * The lint rule that keeps dependencies one way (scripts/one-way-imports.mjs), on a fixture
 * workspace: a core package `a`, two packages `b` and `c` that use it (as the services use
 * common), bench/ and test/. Every kind of reverse import and an import cycle fail; the
 * allowed directions, test support from tests, and a cycle of type-only imports pass.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { repoRoot } from '@shop/launcher/entry.js';

const FILES: Record<string, string> = {
  'package.json': JSON.stringify({ private: true, workspaces: ['packages/*'] }),
  'packages/a/package.json': JSON.stringify({ name: '@shop/a' }),
  'packages/b/package.json': JSON.stringify({ name: '@shop/b', dependencies: { '@shop/a': '0.1.0' } }),
  'packages/c/package.json': JSON.stringify({ name: '@shop/c', dependencies: { '@shop/a': '0.1.0' } }),
  'packages/d/package.json': JSON.stringify({ name: '@shop/d', dependencies: { '@shop/e': '0.1.0' } }),
  'packages/e/package.json': JSON.stringify({ name: '@shop/e', devDependencies: { '@shop/d': '0.1.0' } }),
  // Allowed.
  'packages/a/src/m.ts': 'export const m = 1;\n',
  'packages/a/src/sub/n.ts': "import { m } from '../m.js';\nexport const n = m;\n",
  'packages/a/test/support/h.ts': 'export const h = 1;\n',
  'packages/a/test/m.test.ts': "import { m } from '../src/m.js';\nimport { h } from './support/h.js';\nexport const t = m + h;\n",
  'packages/b/src/x.ts': "import { m } from '@shop/a/m.js';\nimport { n } from '@shop/a/sub/n.js';\nexport const x = m + n;\n",
  'packages/b/test/x.test.ts': "import { x } from '../src/x.js';\nimport { h } from '@shop/a/testing/h.js';\nexport const t = x + h;\n",
  'packages/b/src/t1.ts': "import type { T2 } from './t2.js';\nexport type T1 = { next?: T2 };\nexport const one = 1;\n",
  'packages/b/src/t2.ts': "import { one } from './t1.js';\nexport type T2 = { n: number };\nexport const two = one + 1;\n",
  'packages/c/src/y.ts': "export const y = 2;\n",
  'bench/r.ts': "import { x } from '@shop/b/x.js';\nimport { y } from '@shop/c/y.js';\nexport const r = x + y;\n",
  'test/e.ts': "import { r } from '../bench/r.js';\nimport { h } from '@shop/a/testing/h.js';\nexport const e = r + h;\n",
  // Each refused.
  'packages/a/src/reverse.ts': "import { x } from '@shop/b/x.js';\nexport const z = x;\n",
  'packages/b/src/sibling.ts': "import { y } from '@shop/c/y.js';\nexport const z = y;\n",
  'packages/b/src/relative.ts': "import { m } from '../../a/src/m.js';\nexport const z = m;\n",
  'packages/b/src/self.ts': "import { x } from '@shop/b/x.js';\nexport const z = x;\n",
  'packages/b/src/testing.ts': "import { h } from '@shop/a/testing/h.js';\nexport const z = h;\n",
  'packages/b/src/own-test.ts': "import { t } from '../test/x.test.js';\nexport const z = t;\n",
  'packages/a/src/to-tests.ts': "import { e } from '../../../test/e.js';\nexport const z = e;\n",
  'packages/a/src/to-bench.ts': "export const z = import('../../../bench/r.js');\n",
  'bench/src-path.ts': "import { m } from '@shop/a/src/m.js';\nexport const z = m;\n",
  'bench/to-test.ts': "import { e } from '../test/e.js';\nexport const z = e;\n",
  'packages/e/test/declared-cycle.test.ts': "import { d } from '@shop/d/d.js';\nexport const z = d;\n",
  'packages/d/src/d.ts': 'export const d = 1;\n',
  'packages/c/src/c1.ts': "import { c2 } from './c2.js';\nexport const c1 = 1;\nexport const use = (): number => c2;\n",
  'packages/c/src/c2.ts': "export { c1 as c2 } from './c1.js';\n",
};

/** File → the messageIds the rule reports in it; files not listed must be clean. */
const EXPECTED: Record<string, string[]> = {
  'packages/a/src/reverse.ts': ['reverse'],
  'packages/b/src/sibling.ts': ['undeclared'],
  'packages/b/src/relative.ts': ['leaves'],
  'packages/b/src/self.ts': ['self'],
  'packages/b/src/testing.ts': ['testing'],
  'packages/b/src/own-test.ts': ['srcToTest'],
  'packages/a/src/to-tests.ts': ['leaves'],
  'packages/a/src/to-bench.ts': ['leaves'],
  'bench/src-path.ts': ['srcPath'],
  'bench/to-test.ts': ['benchToTest'],
  'packages/e/test/declared-cycle.test.ts': ['reverse'],
  'packages/c/src/c1.ts': ['cycle'],
  'packages/c/src/c2.ts': ['cycle'],
};

describe('lint: one-way imports (scripts/one-way-imports.mjs)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'one-way-'));
  const found = new Map<string, { ids: string[]; messages: string[] }>();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    for (const [f, text] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), text);
    }
    const plugin = ((await import(pathToFileURL(path.join(repoRoot(), 'scripts', 'one-way-imports.mjs')).href)) as { default: ESLint.Plugin }).default;
    const eslint = new ESLint({
      cwd: dir,
      overrideConfigFile: true,
      overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { 'one-way': plugin }, rules: { 'one-way/imports': 'error' } }],
    });
    for (const r of await eslint.lintFiles(['**/*.ts'])) {
      found.set(path.relative(dir, r.filePath), { ids: r.messages.map((m) => m.messageId ?? m.message), messages: r.messages.map((m) => m.message) });
    }
  });

  it('lints every fixture file', () => {
    assert.deepEqual([...found.keys()].sort(), Object.keys(FILES).filter((f) => f.endsWith('.ts')).sort());
  });

  it('passes the allowed directions, test support from tests, and a cycle through a type-only import', () => {
    for (const [f, r] of found) if (EXPECTED[f] === undefined) assert.deepEqual(r.messages, [], f);
  });

  for (const [f, ids] of Object.entries(EXPECTED)) {
    it(`refuses ${f}: ${ids.join(', ')}`, () => assert.deepEqual(found.get(f)?.ids, ids, found.get(f)?.messages.join('\n')));
  }

  it('names the cycle it found', () => {
    assert.match(found.get('packages/c/src/c1.ts')?.messages[0] ?? '', /packages\/c\/src\/c1\.ts → packages\/c\/src\/c2\.ts → packages\/c\/src\/c1\.ts/);
  });
});
