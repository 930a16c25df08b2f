/** The bench report's Markdown tables and plots: readable whatever the data holds. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuSeriesStyle, table } from '../report.js';
import { lineChart, seriesStyle, type Series } from '../svg.js';

/** Cells of a Markdown table row, split at pipes that are not escaped. */
const cells = (row: string): string[] => row.slice(2, -2).split(/(?<!\\) \| /);

/** Every component group of the CPU plot of an HA run, and the machine line. */
const CPU_GROUPS = [
  'nginx',
  'order service', 'stock service', 'payment service',
  'order redis primary', 'order redis replicas',
  'stock redis primary', 'stock redis replicas',
  'payment redis primary', 'payment redis replicas',
  'sentinels',
  'wrk (load generator)',
];

describe('bench report', () => {
  it('escapes a pipe in a table cell (Redis subcommands like config|get)', () => {
    const md = table(['group', 'command', 'calls'], [['order', 'config|get', '3']]).split('\n');
    assert.equal(md[2], '| order | config\\|get | 3 |');
    assert.deepEqual(cells(md[2] ?? ''), ['order', 'config\\|get', '3']);
    assert.equal(cells(md[0] ?? '').length, 3);
  });

  it('draws every line of the CPU plot with its own colour and dash pattern', () => {
    const series: Series[] = CPU_GROUPS.map((g) => ({ name: g, points: [], ...cpuSeriesStyle(g) }));
    series.push({ name: 'machine busy', points: [], color: '#000000', dash: '5 5' });
    const styles = series.map((s, i) => JSON.stringify(seriesStyle(s, i)));
    assert.equal(new Set(styles).size, series.length, styles.join('\n'));
    // One colour per service: its replicas and Redis servers are told apart by dashes.
    assert.equal(cpuSeriesStyle('stock service').color, cpuSeriesStyle('stock redis replicas').color);
    assert.notEqual(cpuSeriesStyle('stock service').dash, cpuSeriesStyle('stock redis replicas').dash);
  });

  it('gives any number of unstyled series distinct styles, in the plot and its legend', () => {
    const series: Series[] = Array.from({ length: 25 }, (_, i) => ({ name: `s${i}`, points: [[0, i], [1, i + 1]] }));
    assert.equal(new Set(series.map((s, i) => JSON.stringify(seriesStyle(s, i)))).size, 25);
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series });
    const legend = [...svg.matchAll(/<line x1="[^"]+" x2="[^"]+" y1="[^"]+" y2="[^"]+" stroke="([^"]+)" stroke-width="2"(?: stroke-dasharray="([^"]+)")?\/>/g)];
    assert.equal(new Set(legend.map((m) => `${m[1]} ${m[2] ?? ''}`)).size, 25);
  });
});
