import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCli, USAGE, UsageError } from '../src/cli.js';
import { MAX_SHARDS } from '../src/topology.js';

describe('npm start --shards', () => {
  it('defaults to one shard and takes a count', () => {
    assert.equal(parseCli([]).shards, 1);
    assert.equal(parseCli(['--shards', '3']).shards, 3);
  });

  it('refuses what is not a count; the topology refuses counts out of range', () => {
    assert.throws(() => parseCli(['--shards', 'two']), UsageError);
    assert.throws(() => parseCli(['--shards', '-1']), UsageError);
  });

  it('is documented with its bounds', () => {
    const text = USAGE.slice(USAGE.indexOf('--shards N'), USAGE.indexOf('--port N'));
    assert.ok(text.includes(`1..${MAX_SHARDS}`) && text.includes('ha'), text);
  });
});
