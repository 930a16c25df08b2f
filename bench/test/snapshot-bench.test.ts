/** The snapshot bench's pure parts: percentiles, its command line, the exactness of a cut, the table. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sha256, type ManifestFile } from '@shop/launcher/snapshot/take.js';
import { OPTIONS, USAGE, parseLevels, parseSnapshotBenchCli } from '../snapshot/cli.js';
import { cutProblems, fileProblems } from '../snapshot/exact.js';
import { costPercent, summaryTable, windowOf, type LevelResult } from '../snapshot/report.js';
import { pauseStats, percentile } from '../snapshot/stats.js';
import type { WrkResult } from '../wrk.js';

describe('snapshot bench: percentiles', () => {
  it('takes the nearest rank, so p99 of fewer than 100 samples is the largest', () => {
    const xs = Array.from({ length: 20 }, (_, i) => 20 - i);
    assert.equal(percentile(xs, 50), 10);
    assert.equal(percentile(xs, 99), 20);
    assert.equal(percentile(xs, 100), 20);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile([7], 50), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('splits each pause into its drain and the rest', () => {
    const s = pauseStats([
      { pauseMs: 30, drainMs: 5 },
      { pauseMs: 40, drainMs: 2 },
      { pauseMs: 170, drainMs: 150 },
    ]);
    assert.equal(s.snapshots, 3);
    assert.deepEqual(s.pause, { p50: 40, p99: 170, max: 170 });
    assert.deepEqual(s.drain, { p50: 5, p99: 150, max: 150 });
    assert.deepEqual(s.mark, { p50: 25, p99: 38, max: 38 });
  });
});

describe('snapshot bench: command line', () => {
  it('defaults to full load and 1,000/s, back to back, 60 s windows', () => {
    const o = parseSnapshotBenchCli([], new Date('2026-12-01T10:00:00Z'));
    assert.notEqual(o, 'help');
    if (o === 'help') return;
    assert.deepEqual(o.levels, [{ kind: 'full' }, { kind: 'rate', rate: 1000 }]);
    assert.equal(o.windowS, 60);
    assert.equal(o.everyMs, 0);
    assert.equal(o.connections, 64);
    assert.match(o.outDir, /bench\/results\/snapshot-2026-12-01T10-00-00-000$/);
  });

  it('reads levels and refuses what is not full or a rate', () => {
    assert.deepEqual(parseLevels('500, full'), [{ kind: 'rate', rate: 500 }, { kind: 'full' }]);
    assert.throws(() => parseLevels('fast'), /full or a rate/);
    assert.throws(() => parseLevels('0'), /full or a rate/);
    assert.throws(() => parseLevels(','), /no level/);
    assert.throws(() => parseSnapshotBenchCli(['--window', '0']), /positive integer/);
    assert.throws(() => parseSnapshotBenchCli(['--bogus']), /Unknown option/);
    // Both windows' orders come from one batch_init of at most 1,000,000: refused before any cluster starts.
    assert.throws(() => parseSnapshotBenchCli(['--window', '300', '--max-rate', '4000']), /more fresh orders than one batch_init makes \(1000000\)/);
    assert.deepEqual(Object.entries(parseSnapshotBenchCli(['--window', '200', '--max-rate', '2500'])).filter(([k]) => k === 'windowS' || k === 'maxRate'), [['windowS', 200], ['maxRate', 2500]]);
  });

  it('names every option in its usage', () => {
    for (const name of Object.keys(OPTIONS)) assert.ok(USAGE.includes(`--${name}`), `--${name} in the usage`);
  });
});

const file = (service: 'order' | 'stock' | 'payment', counts: ManifestFile['counts']): ManifestFile => ({
  group: service,
  service,
  shard: 0,
  file: `${service}.rdb`,
  bytes: 0,
  sha256: '',
  from: '127.0.0.1:1',
  counts,
});

describe('snapshot bench: is the cut exact', () => {
  const loaded = { items: 10, stock: 100, users: 5, credit: 50, perOrder: 2 };
  const orders = (paid: number) => ({ total: 100, paid, transactions: paid, committed: paid, aborted: 0 });

  it('accepts a cut where stock taken = credit taken = 2 x paid, summed over shards', () => {
    const files = [file('order', { keys: 0 }), file('stock', { keys: 0, entries: 6, available: 560 }), file('stock', { keys: 0, entries: 4, available: 400 }), file('payment', { keys: 0, entries: 5, available: 210 })];
    assert.deepEqual(cutProblems({ files, orders: orders(20) }, loaded), []);
  });

  it('catches a checkout on one side of the cut only, and a missing entity', () => {
    const files = [file('stock', { keys: 0, entries: 10, available: 958 }), file('payment', { keys: 0, entries: 4, available: 210 })];
    const problems = cutProblems({ files, orders: orders(20) }, loaded);
    assert.equal(problems.length, 2);
    assert.match(problems.join('\n'), /4 users in the payment copies, 5 loaded/);
    assert.match(problems.join('\n'), /stock taken 42, paid orders account for 40/);
  });

  it('checks every file against the manifest', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapshot-bench-test-'));
    try {
      fs.writeFileSync(path.join(dir, 'order.rdb'), 'copy');
      fs.writeFileSync(path.join(dir, 'stock.rdb'), 'changed');
      const files = [{ ...file('order', { keys: 0 }), sha256: sha256(Buffer.from('copy')) }, { ...file('stock', { keys: 0 }), sha256: sha256(Buffer.from('copy')) }, file('payment', { keys: 0 })];
      assert.deepEqual(fileProblems(dir, { files }), ['stock.rdb: checksum differs from the manifest', 'payment.rdb missing']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('snapshot bench: the table', () => {
  const wrk = (requests: number, errStatus = 0): WrkResult => ({
    durationUs: 10e6,
    requests,
    bytes: 0,
    errConnect: 0,
    errRead: 0,
    errWrite: 0,
    errStatus,
    errTimeout: 0,
    latMinUs: 1000,
    latMaxUs: 250_000,
    latMeanUs: 20_000,
    latStdevUs: 1,
    latPercentilesUs: { '99': 60_000 },
    threads: [],
  });

  it('gives the cost of the snapshots as the change in checkouts/s', () => {
    assert.equal(costPercent(2000, 1500), -25);
    const level: LevelResult = {
      name: 'full load',
      nOrders: 100,
      baseline: windowOf(wrk(20_000)),
      withSnapshots: windowOf(wrk(15_000, 3)),
      stats: pauseStats([{ pauseMs: 30, drainMs: 5 }]),
      cuts: [{ pauseMs: 30, drainMs: 5, tookMs: 9000 }],
      failures: [],
    };
    assert.equal(level.withSnapshots.okPerS, 1499.7);
    const row = summaryTable([level]).split('\n')[2]!;
    assert.equal(row, '| full load | 1 | 30 / 30 / 30 | 5 / 5 | 25 / 25 | 2,000 / 1,500 (−25%) | 60 / 250; 60 / 250 | 3, 0 | all 1 |');
  });
});
