import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_WARMUP_S, parseCli, type BenchOptions } from '../cli.js';

function parsed(args: string[]): BenchOptions {
  const o = parseCli(args);
  assert.notEqual(o, 'help');
  return o as BenchOptions;
}

describe('npm run bench: the warm-up', () => {
  it('lasts 30 s unless told otherwise: shorter left the first scenario ~20% dearer per request', () => {
    assert.equal(DEFAULT_WARMUP_S, 30);
    assert.equal(parsed([]).warmupS, 30);
  });

  it('takes --warmup N, and 0 for none', () => {
    assert.equal(parsed(['--warmup', '8']).warmupS, 8);
    assert.equal(parsed(['--warmup', '0']).warmupS, 0);
    assert.throws(() => parseCli(['--warmup', '-3']));
  });
});
