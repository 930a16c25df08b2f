/**
 * A Redis server restarted as a replica starts without its own AOF (roles.ts
 * setAsideBeforeResync): the full resync would throw that data away after loading it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { AOF_BEFORE_RESYNC, setAsideBeforeResync } from '../src/roles.js';

let dir: string;
const aofFile = (sub: string): string => path.join(dir, sub, 'appendonly.aof.1.incr.aof');
const writeAof = (text: string): void => {
  fs.mkdirSync(path.join(dir, 'appendonlydir'), { recursive: true });
  fs.writeFileSync(aofFile('appendonlydir'), text);
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resync-aside-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the AOF is moved aside, not deleted', () => {
  writeAof('first');
  setAsideBeforeResync({ dir });
  assert.equal(fs.existsSync(path.join(dir, 'appendonlydir')), false);
  assert.equal(fs.readFileSync(aofFile(AOF_BEFORE_RESYNC), 'utf8'), 'first');
});

test('a later restart replaces the copy set aside before', () => {
  writeAof('first');
  setAsideBeforeResync({ dir });
  writeAof('second');
  setAsideBeforeResync({ dir });
  assert.equal(fs.readFileSync(aofFile(AOF_BEFORE_RESYNC), 'utf8'), 'second');
});

test('a server without an AOF yet is left as it is', () => {
  setAsideBeforeResync({ dir });
  assert.deepEqual(fs.readdirSync(dir), []);
});
