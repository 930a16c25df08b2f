/**
 * Every code a Lua script returns is named in exactly one TypeScript table: this test reads
 * each script's header `Returns` block and fails when its codes and the table disagree, or
 * when a script has no table at all.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ABORT, ADJUST, COMMIT, RESERVE, STEPS } from '@shop/common/ledger/outcomes.js';
import { GUARD_LEASE, GUARD_MEMBERSHIP } from '@shop/common/replication/outcomes.js';
import { ADD_ITEM, BEGIN, DECIDE, FINISH } from '@shop/order/outcomes.js';
import { repoRoot } from '@shop/launcher/entry.js';

const REPO_ROOT = repoRoot();

/** Script (path from the repository root) → its code table, or 'count' for a script that returns a number. */
const TABLES: Record<string, Record<string, number | string> | 'count'> = {
  'packages/common/lua/includes/step_reserve.lua': RESERVE,
  'packages/common/lua/includes/step_commit.lua': COMMIT,
  'packages/common/lua/includes/step_abort.lua': ABORT,
  'packages/common/lua/ledger/steps.lua': STEPS,
  'packages/common/lua/ledger/adjust.lua': ADJUST,
  'packages/common/lua/replication/guard_lease.lua': GUARD_LEASE,
  'packages/common/lua/replication/guard_membership.lua': GUARD_MEMBERSHIP,
  'packages/order/lua/add_item.lua': ADD_ITEM,
  'packages/order/lua/checkout_begin.lua': BEGIN,
  'packages/order/lua/checkout_decide.lua': DECIDE,
  'packages/order/lua/checkout_finish.lua': FINISH,
  'packages/order/lua/checkout_defer.lua': 'count',
};

function scripts(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return scripts(rel);
    // Includes are shared code, except the ledger's steps: each has a contract of its own.
    if (dir.endsWith('/includes') && !e.name.startsWith('step_')) return [];
    return e.name.endsWith('.lua') ? [rel] : [];
  });
}

/**
 * The codes a header's `Returns` block lists: the first literal (integer or quoted string)
 * of each line below `Returns` that starts with one, bare or as the first element of `{…}`.
 */
export function headerCodes(source: string): (number | string)[] {
  const header = source.slice(0, source.indexOf(']]'));
  const block = header.slice(header.search(/^\s*Returns\b/m));
  const codes: (number | string)[] = [];
  for (const line of block.split('\n').slice(1)) {
    const m = /^\s+\{?\s*(-?\d+|'[^']*')[\s,}]/.exec(line);
    if (m) codes.push(m[1]!.startsWith("'") ? m[1]!.slice(1, -1) : Number(m[1]));
  }
  return codes;
}

describe('Lua script headers and their code tables', () => {
  const all = [...scripts('packages/common/lua'), ...scripts('packages/order/lua')].sort();

  test('every script has a code table (or is declared to return a count)', () => {
    assert.deepEqual(all, Object.keys(TABLES).sort());
  });

  for (const file of all) {
    test(`${file}: the header's Returns codes are exactly its table's`, () => {
      const table = TABLES[file];
      const source = readFileSync(path.join(REPO_ROOT, file), 'utf8');
      assert.match(source, /^\s*Returns\b/m, 'no Returns block');
      if (table === 'count' || table === undefined) return;
      const listed = headerCodes(source);
      assert.equal(new Set(listed).size, listed.length, `a code is listed twice: ${listed.join(', ')}`);
      assert.deepEqual(
        [...listed].sort(),
        Object.values(table).sort(),
        `header lists ${listed.join(', ')}; table names ${Object.entries(table).map(([k, v]) => `${k}=${v}`).join(', ')}`,
      );
    });
  }

  test('the parser reads bare, braced and quoted codes, and nothing else', () => {
    const src = `--[[\n  Returns {code, x}:\n    {0, x}  ok\n    {2, 0}  no\n    -1  lost\n    {'', 'NO_TX'}  none\n  Every check runs first.\n]]\nreturn {9}`;
    assert.deepEqual(headerCodes(src), [0, 2, -1, '']);
  });
});
