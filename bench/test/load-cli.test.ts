import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '@shop/launcher/entry.js';
import { INSTALL_HINT, OPTIONS, USAGE, locustCommand, parseDuration, parseLoadCli } from '../load/cli.js';

const root = repoRoot();

/** The entry from source, with PATH as given: node and tsx are found without it. */
function runEntry(args: string[], PATH: string): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', 'bench/load/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PATH },
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('npm run load', () => {
  it('says how to install locust and exits non-zero when it is not on PATH', () => {
    const r = runEntry(['--shape', 'mixed'], path.join(root, 'no-such-dir'));
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), INSTALL_HINT);
    assert.match(INSTALL_HINT, /apt-get install python3-locust/);
  });

  it('refuses an unknown shape with its usage, before looking for locust', () => {
    const r = runEntry(['--shape', 'soak'], path.join(root, 'no-such-dir'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--shape must be stress or mixed, got soak/);
  });

  it('names every option in its usage', () => {
    for (const name of Object.keys(OPTIONS)) assert.match(USAGE, new RegExp(`--${name}\\b`), name);
  });

  it('runs headless against the local gateway by default, the stress shape with its class', () => {
    const o = parseLoadCli([]);
    assert.notEqual(o, 'help');
    if (o === 'help') return;
    const { args, env } = locustCommand(o, '/repo');
    assert.deepEqual(args, [
      '-f',
      '/repo/bench/locust/locustfile.py',
      '--host',
      'http://127.0.0.1:8000',
      '-u',
      '100',
      '-r',
      '20',
      '--headless',
      '--only-summary',
      '-t',
      '60s',
      'CheckoutUser',
    ]);
    assert.deepEqual(env, { SHOP_ORDERS: '100000' });
  });

  it('serves the web UI on loopback only with --web, and runs no timer there', () => {
    const o = parseLoadCli(['--web', '--shape', 'mixed', '--users', '10', '--host', 'http://127.0.0.1:9000/']);
    if (o === 'help') return assert.fail('help');
    const { args } = locustCommand(o, '/repo');
    assert.deepEqual(args.slice(args.indexOf('--web-host'), args.indexOf('--web-host') + 4), ['--web-host', '127.0.0.1', '--web-port', '8089']);
    assert.ok(!args.includes('--headless') && !args.includes('-t'));
    assert.equal(args[args.indexOf('--host') + 1], 'http://127.0.0.1:9000');
    assert.equal(args[args.indexOf('-f') + 1], '/repo/bench/locust/mixed.py');
    assert.equal(args.at(-1), 'ShopUser');
  });

  it('reads durations in seconds, minutes or hours and refuses anything else', () => {
    assert.equal(parseDuration('10'), 10);
    assert.equal(parseDuration('10s'), 10);
    assert.equal(parseDuration('2m'), 120);
    assert.equal(parseDuration('1h'), 3600);
    for (const bad of ['0', '-1', '1.5m', '10x', '']) assert.throws(() => parseDuration(bad), /--duration/);
  });
});
