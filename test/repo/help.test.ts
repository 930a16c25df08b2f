/**
 * Every command of the README answers --help with a usage text that names each option it
 * accepts: `npm start`, `npm run chaos`, `npm run bench` and `npm run snapshot`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { OPTIONS as BENCH_OPTIONS, USAGE as BENCH_USAGE, parseCli as parseBench } from '../../bench/cli.js';
import { OPTIONS as CHAOS_OPTIONS, USAGE as CHAOS_USAGE, parseOptions as parseChaos } from '../chaos/options.js';
import { OPTIONS as START_OPTIONS, USAGE as START_USAGE, parseCli as parseStart } from '@shop/launcher/cli.js';
import { OPTIONS as SNAPSHOT_OPTIONS, USAGE as SNAPSHOT_USAGE, parseCli as parseSnapshot } from '@shop/launcher/snapshot/cli.js';
import { repoRoot } from '@shop/launcher/entry.js';
import { FROM_SOURCE } from '@shop/launcher/topology.js';

const root = repoRoot();

const commands = [
  { name: 'npm start', options: START_OPTIONS, usage: START_USAGE, main: 'packages/launcher/src/main.ts', help: () => parseStart(['--help']).help },
  { name: 'npm run chaos', options: CHAOS_OPTIONS, usage: CHAOS_USAGE, main: 'test/chaos/main.ts', help: () => parseChaos(['--help']) === 'help' },
  { name: 'npm run bench', options: BENCH_OPTIONS, usage: BENCH_USAGE, main: 'bench/main.ts', help: () => parseBench(['--help']) === 'help' },
  { name: 'npm run snapshot', options: SNAPSHOT_OPTIONS, usage: SNAPSHOT_USAGE, main: 'packages/launcher/src/snapshot/main.ts', help: () => parseSnapshot(['--help']) === 'help' },
];

describe('--help of every command', () => {
  for (const c of commands) {
    it(`${c.name}: the usage names every option it accepts`, () => {
      const names = Object.keys(c.options);
      assert.ok(names.includes('help'), 'accepts --help');
      for (const o of names) assert.match(c.usage, new RegExp(`^\\s+--${o}\\b`, 'm'), `${c.name} usage lacks --${o}`);
      // And names no option it would refuse.
      for (const m of c.usage.matchAll(/^\s+--([a-z-]+)/gm)) assert.ok(names.includes(m[1]!), `${c.name} usage names unknown --${m[1]}`);
      assert.ok(c.help());
    });

    it(`${c.name} -- --help prints the usage and exits 0`, () => {
      const r = spawnSync(process.execPath, [...FROM_SOURCE, path.join(root, c.main), '--help'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), c.usage.trim());
    });
  }
});
