/** ours / ceiling in the bench report, and the command line that selects the skeleton. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCli } from '../cli.js';
import { ceilingLines, cpuUsPerCommit, type RatioInput } from '../report.js';

const run = (scenario: RatioInput['scenario'], durability: RatioInput['durability'], committed: number, windowS: number, cpu: Record<string, number>): RatioInput => ({
  scenario,
  durability,
  committed,
  committedPerS: committed / windowS,
  cpuByGroup: cpu,
});

describe('ours / ceiling', () => {
  // (b): 1,000 commits/s for 15 s, 27 s of system CPU = 1,800 µs per commit; the skeleton
  // 4,000/s at 0.45 ms. wrk, the bench and other tenants are not the system's CPU.
  const fresh = run('fresh', 'on', 15_000, 15, { nginx: 1, 'order service': 10, 'stock redis primary': 16, 'wrk (load generator)': 5, 'bench process': 1, 'unaccounted (kernel, other tenants)': 3 });
  const ceiling = run('ceiling', 'on', 60_000, 15, { nginx: 3, 'order stand-in (ceiling)': 12, 'stock redis primary': 12, 'wrk (load generator)': 9 });

  it('divides the committed rate of (b) by the skeleton\'s and gives the CPU per checkout of each', () => {
    assert.equal(cpuUsPerCommit(fresh), 1800);
    assert.equal(cpuUsPerCommit(ceiling), 450);
    assert.deepEqual(ceilingLines([fresh, ceiling]), [
      'ours / ceiling: **0.25** (durability on): (b) 1,000 committed/s at 1,800 µs of system CPU per commit; ceiling 4,000 checkouts/s at 450 µs per checkout.',
    ]);
  });

  it('pairs runs of the same durability and says nothing without both', () => {
    assert.deepEqual(ceilingLines([fresh]), []);
    assert.deepEqual(ceilingLines([ceiling]), []);
    assert.deepEqual(ceilingLines([fresh, run('ceiling', 'off', 90_000, 15, {})]), []);
    const lines = ceilingLines([fresh, run('fresh', 'off', 30_000, 15, { nginx: 30 }), ceiling, run('ceiling', 'off', 90_000, 15, { nginx: 9 })]);
    assert.equal(lines.length, 2);
    assert.match(lines[1] ?? '', /^ours \/ ceiling: \*\*0\.33\*\* \(durability off\): \(b\) 2,000 committed\/s at 1,000 µs .*ceiling 6,000 checkouts\/s at 100 µs/);
  });

  it('shows a dash rather than a ratio or CPU figure when nothing committed', () => {
    const [line] = ceilingLines([fresh, run('ceiling', 'on', 0, 15, { nginx: 1 })]);
    assert.match(line ?? '', /\*\*–\*\*.*ceiling 0 checkouts\/s at – µs per checkout/);
  });
});

describe('bench command line: the ceiling scenario', () => {
  it('is selected as ceiling or d beside (b), and is part of the default set', () => {
    const o = parseCli(['--scenario', 'b,d']);
    assert.ok(o !== 'help');
    assert.deepEqual(o.scenarios, ['fresh', 'ceiling']);
    const all = parseCli([]);
    assert.ok(all !== 'help' && all.scenarios.includes('ceiling'));
  });

  it('is left out of the default set with --url and refused when asked for there', () => {
    const o = parseCli(['--url', 'http://127.0.0.1:8000']);
    assert.ok(o !== 'help');
    assert.deepEqual(o.scenarios, ['stress', 'fresh', 'contention']);
    assert.throws(() => parseCli(['--url', 'http://127.0.0.1:8000', '--scenario', 'b,ceiling']), /ceiling needs a cluster started by the bench/);
  });
});
