/** Writes a bench invocation's results: JSON, a Markdown report, and SVG plots beside it. */
import fs from 'node:fs';
import path from 'node:path';
import type { ProfileSummary } from './profile.js';
import type { BenchResult, ScenarioResult } from './run.js';
import type { SeriesPoint } from './sampler.js';
import { lineChart, type Series } from './svg.js';

/** One colour per service (or other component family), one dash pattern per role in it. */
const FAMILY_COLOR: [RegExp, string][] = [
  [/^order /, '#1f77b4'],
  [/^stock /, '#2ca02c'],
  [/^payment /, '#d62728'],
  [/^nginx/, '#9467bd'],
  [/^sentinels/, '#8c564b'],
  [/^wrk/, '#ff7f0e'],
  [/^bench/, '#bcbd22'],
  [/^unaccounted/, '#17becf'],
];
const ROLE_DASH: [RegExp, string][] = [
  [/redis primary$/, '7 3'],
  [/redis replicas$/, '2 3'],
];

/** How the CPU plot draws a component group: e.g. every stock line green, its Redis replicas dotted. */
export function cpuSeriesStyle(group: string): { color?: string; dash?: string } {
  const color = FAMILY_COLOR.find(([re]) => re.test(group))?.[1];
  const dash = ROLE_DASH.find(([re]) => re.test(group))?.[1] ?? '';
  return color === undefined ? {} : { color, dash };
}

const f0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const f1 = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(1));
const f2 = (n: number): string => n.toFixed(2);
const ms = (us: number | undefined): string => (us === undefined ? '–' : (us / 1000).toFixed(1));
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

function runId(r: ScenarioResult): string {
  return `${r.scenario}-durability-${r.durability}`;
}

function commits(r: ScenarioResult): number {
  return r.committed;
}

/** Refusals per second: every outcome that is neither a commit nor an already-paid 200. */
function refusals(p: SeriesPoint): number {
  return sum(Object.entries(p.checkouts).filter(([k]) => k !== 'committed' && k !== 'already_paid').map(([, v]) => v));
}

function groupedCores(r: ScenarioResult, p: SeriesPoint): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(p.cores)) {
    const g = k === 'wrk' ? 'wrk (load generator)' : (r.componentGroups[k] ?? k);
    out[g] = (out[g] ?? 0) + v;
  }
  return out;
}

function writePlots(dir: string, scenario: string, runs: ScenarioResult[]): string[] {
  const files: string[] = [];
  const put = (name: string, svg: string): void => {
    fs.writeFileSync(path.join(dir, name), svg);
    files.push(name);
  };
  const dashed = (r: ScenarioResult): boolean => r.durability === 'off';
  const tag = (r: ScenarioResult): string => (runs.length > 1 ? ` (dur. ${r.durability})` : '');
  const tput: Series[] = runs.flatMap((r) => {
    const pts = (fn: (p: SeriesPoint) => number): [number, number][] => r.series.map((p) => [p.t, fn(p)]);
    const out: Series[] = [{ name: `committed/s${tag(r)}`, points: pts((p) => p.checkouts.committed ?? 0), dashed: dashed(r) }];
    if (r.scenario === 'stress') out.push({ name: `already paid/s${tag(r)}`, points: pts((p) => p.checkouts.already_paid ?? 0), dashed: dashed(r) });
    if (r.scenario === 'contention') out.push({ name: `refused/s${tag(r)}`, points: pts(refusals), dashed: dashed(r) });
    return out;
  });
  // The skeleton of (d) has no metrics: its throughput and latency plots would be empty axes.
  const metered = runs.some((r) => r.series.some((p) => Object.keys(p.checkouts).length > 0 || p.p50Ms !== undefined));
  if (metered) put(`${scenario}-throughput.svg`, lineChart({ title: `${scenario}: checkouts per second (order service metrics)`, xLabel: 'seconds', yLabel: 'checkouts/s', series: tput }));
  const lat: Series[] = runs.flatMap((r) =>
    (['p50Ms', 'p90Ms', 'p99Ms'] as const).map((k) => ({
      name: `${k.slice(0, 3)}${tag(r)}`,
      points: r.series.map((p): [number, number | undefined] => [p.t, p[k]]),
      dashed: dashed(r),
    })),
  );
  if (metered) put(
    `${scenario}-latency.svg`,
    lineChart({ title: `${scenario}: checkout latency in the order service (histogram, per second)`, xLabel: 'seconds', yLabel: 'ms (log)', series: lat, logY: true }),
  );
  for (const r of runs) {
    const groups = [...new Set(r.series.flatMap((p) => Object.keys(groupedCores(r, p))))].sort();
    const cpu: Series[] = groups.map((g) => ({
      name: g,
      points: r.series.map((p): [number, number] => [p.t, groupedCores(r, p)[g] ?? 0]),
      ...cpuSeriesStyle(g),
    }));
    cpu.push({ name: 'machine busy', points: r.series.map((p): [number, number] => [p.t, p.machineCores]), color: '#000000', dash: '5 5' });
    put(`${runId(r)}-cpu.svg`, lineChart({ title: `${scenario}${tag(r)}: CPU cores busy per component`, xLabel: 'seconds', yLabel: 'cores', series: cpu, width: 900 }));
  }
  return files;
}

/** A pipe inside a cell (Redis names subcommands `config|get`) would end the cell: escape it. */
const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** A Markdown table: first column left-aligned, the others right-aligned. */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(head), `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map(line)].join('\n');
}

/** CPU of the system under test (gateway, services or their stand-ins, Redis, Sentinels): not wrk, the bench or other tenants. */
export function systemCpu(r: Pick<ScenarioResult, 'cpuByGroup'>): number {
  return sum(Object.entries(r.cpuByGroup).filter(([g]) => !g.startsWith('wrk') && !g.startsWith('bench') && !g.startsWith('unaccounted')).map(([, v]) => v));
}

/** CPU µs of the system per committed checkout, undefined without commits. */
export function cpuUsPerCommit(r: Pick<ScenarioResult, 'cpuByGroup' | 'committed'>): number | undefined {
  return r.committed > 0 ? (systemCpu(r) / r.committed) * 1e6 : undefined;
}

/**
 * "ours / ceiling" for each durability where both (b) and the skeleton ran in this
 * invocation: (b)'s committed/s over the skeleton's, the share of what the topology and the
 * durability rule allow that our code reaches.
 */
export type RatioInput = Pick<ScenarioResult, 'scenario' | 'durability' | 'committed' | 'committedPerS' | 'cpuByGroup'>;

export function ceilingLines(runs: RatioInput[]): string[] {
  const out: string[] = [];
  for (const fresh of runs.filter((r) => r.scenario === 'fresh')) {
    const ceiling = runs.find((r) => r.scenario === 'ceiling' && r.durability === fresh.durability);
    if (ceiling === undefined) continue;
    const ratio = ceiling.committedPerS > 0 ? (fresh.committedPerS / ceiling.committedPerS).toFixed(2) : '–';
    const us = (r: RatioInput): string => {
      const v = cpuUsPerCommit(r);
      return v === undefined ? '–' : f0(v);
    };
    out.push(
      `ours / ceiling: **${ratio}** (durability ${fresh.durability}): (b) ${f0(fresh.committedPerS)} committed/s at ${us(fresh)} µs of system CPU per commit; ` +
        `ceiling ${f0(ceiling.committedPerS)} checkouts/s at ${us(ceiling)} µs per checkout.`,
    );
  }
  return out;
}

/** BUSY waits of the window at stock / payment; '–' without the order service's metrics (--url, the ceiling). */
export function busyCell(r: Pick<ScenarioResult, 'busyWaits' | 'batchSizes'>): string {
  if (r.batchSizes === undefined && Object.keys(r.busyWaits).length === 0) return '–';
  return `${f0(r.busyWaits.stock ?? 0)} / ${f0(r.busyWaits.payment ?? 0)}`;
}

function summary(runs: ScenarioResult[]): string {
  return table(
    ['scenario', 'durability', 'requests/s (wrk)', 'committed/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'answers ≥400', 'socket errors', 'BUSY waits stock / payment', 'checks', 'busy neighbours (cores before / during)'],
    runs.map((r) => [
      `(${r.label}) ${r.scenario}`,
      r.durability,
      f0(r.requestsPerS),
      f0(r.committedPerS),
      ms(r.wrk.latPercentilesUs['50']),
      ms(r.wrk.latPercentilesUs['90']),
      ms(r.wrk.latPercentilesUs['99']),
      ms(r.wrk.latMaxUs),
      f0(r.wrk.errStatus),
      f0(r.wrk.errConnect + r.wrk.errRead + r.wrk.errWrite + r.wrk.errTimeout),
      busyCell(r),
      r.checks.length === 0 ? 'skipped' : r.checks.every((c) => c.ok) ? 'all ok' : `**${r.checks.filter((c) => !c.ok).length} FAILED**`,
      `${r.backgroundCores.toFixed(2)} / ${(r.cpu.unaccounted / r.windowS).toFixed(2)}`,
    ]),
  );
}

/** Groups in a stable order: gateway, services, Redis, then the bench's own share. */
function groupOrder(runs: ScenarioResult[]): string[] {
  const all = [...new Set(runs.flatMap((r) => Object.keys(r.cpuByGroup)))];
  const rank = (g: string): number =>
    g === 'nginx' ? 0 : g.endsWith('service') || g.includes('stand-in') ? 1 : g.includes('redis') ? 2 : g === 'sentinels' ? 3 : g.startsWith('wrk') ? 5 : g.startsWith('bench') ? 6 : g.startsWith('unaccounted') ? 7 : 4;
  return all.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function cpuTables(runs: ScenarioResult[]): string {
  const groups = groupOrder(runs);
  const cols = runs.map((r) => `(${r.label}) ${r.durability}`);
  const system = systemCpu;
  const perCommit = table(
    ['component', ...cols],
    [
      ...groups.map((g) => [g, ...runs.map((r) => (commits(r) > 0 ? f0(((r.cpuByGroup[g] ?? 0) / commits(r)) * 1e6) : '–'))]),
      ['**system total (nginx + services + Redis + Sentinels)**', ...runs.map((r) => (commits(r) > 0 ? `**${f0((system(r) / commits(r)) * 1e6)}**` : '–'))],
      ['commits in the window', ...runs.map((r) => f0(commits(r)))],
    ],
  );
  const perRequest = table(
    ['', ...cols],
    [
      ['system CPU µs per request', ...runs.map((r) => f0((system(r) / Math.max(1, r.wrk.requests)) * 1e6))],
      ['requests in the window', ...runs.map((r) => f0(r.wrk.requests))],
    ],
  );
  const seconds = table(
    ['component', ...cols],
    [
      ...groups.map((g) => [
        g,
        ...runs.map((r) => {
          const sys = r.cpuSysByGroup[g];
          const k = sys !== undefined && (r.cpuByGroup[g] ?? 0) > 0 ? `, ${Math.round((100 * sys) / r.cpuByGroup[g]!)}% kernel` : '';
          return `${f1(r.cpuByGroup[g])} s (${((r.cpuByGroup[g] ?? 0) / r.windowS).toFixed(2)} cores${k})`;
        }),
      ]),
      ['machine busy', ...runs.map((r) => `${f1(r.cpu.machineBusy)} s (${(r.cpu.machineBusy / r.windowS).toFixed(2)} of ${(r.cpu.machineTotal / r.windowS).toFixed(2)} cores)`)],
      ['window', ...runs.map((r) => `${r.windowS.toFixed(1)} s`)],
    ],
  );
  const syscallGroups = groups.filter((g) => runs.some((r) => (r.syscallsByGroup[g] ?? 0) > 0));
  const syscalls = table(
    ['component', ...cols],
    [
      ...syscallGroups.map((g) => [g, ...runs.map((r) => (commits(r) > 0 ? f1((r.syscallsByGroup[g] ?? 0) / commits(r)) : '–'))]),
      [
        '**total**',
        ...runs.map((r) => (commits(r) > 0 ? `**${f1(sum(syscallGroups.map((g) => r.syscallsByGroup[g] ?? 0)) / commits(r))}**` : '–')),
      ],
    ],
  );
  const ctxGroups = groups.filter((g) => runs.some((r) => (r.ctxSwitchesByGroup?.[g] ?? 0) > 0));
  const ctxSwitches = table(
    ['component', ...cols],
    [
      ...ctxGroups.map((g) => [g, ...runs.map((r) => (commits(r) > 0 ? f1((r.ctxSwitchesByGroup?.[g] ?? 0) / commits(r)) : '–'))]),
      [
        '**total**',
        ...runs.map((r) => (commits(r) > 0 ? `**${f1(sum(ctxGroups.map((g) => r.ctxSwitchesByGroup?.[g] ?? 0)) / commits(r))}**` : '–')),
      ],
    ],
  );
  const replGroups = ['order', 'stock', 'payment'].filter((g) => runs.some((r) => r.replicatedBytes?.[g] !== undefined));
  const replicated = table(
    ['group', ...cols],
    [
      ...replGroups.map((g) => [g, ...runs.map((r) => (commits(r) > 0 && r.replicatedBytes ? f0((r.replicatedBytes[g] ?? 0) / commits(r)) : '–'))]),
      ['**total**', ...runs.map((r) => (commits(r) > 0 && r.replicatedBytes ? `**${f0(sum(Object.values(r.replicatedBytes)) / commits(r))}**` : '–'))],
    ],
  );
  const batchKinds = [...new Set(runs.flatMap((r) => Object.keys(r.batchSizes ?? {})))].sort();
  const fq = (v: number | undefined): string => (v === undefined ? '–' : f1(v));
  const batches = table(
    ['service, batch', ...cols],
    batchKinds.map((k) => [
      k,
      ...runs.map((r) => {
        const b = r.batchSizes?.[k];
        return b === undefined || commits(r) <= 0 ? '–' : `${f1(b.mean)} (${fq(b.p50)} / ${fq(b.p90)}), ${f2(b.batches / commits(r))} per commit`;
      }),
    ]),
  );
  const gcServices = [...new Set(runs.flatMap((r) => Object.keys(r.gc ?? {}).map((k) => k.split(' ')[0]!)))].sort();
  const gcOf = (r: ScenarioResult, service: string) =>
    Object.entries(r.gc ?? {})
      .filter(([k]) => k.startsWith(`${service} `))
      .reduce((acc, [, g]) => ({ seconds: acc.seconds + g.seconds, pauses: acc.pauses + g.pauses, long: acc.long + g.atLeast10ms }), { seconds: 0, pauses: 0, long: 0 });
  const gc = table(
    ['service', ...cols],
    gcServices.map((svc) => [
      svc,
      ...runs.map((r) => {
        if (commits(r) <= 0 || r.gc === undefined) return '–';
        const g = gcOf(r, svc);
        return `${f0((g.seconds * 1e6) / commits(r))} µs, ${f2(g.pauses / (commits(r) / 1000))} pauses per 1,000; ${f0(g.long)} of ≥ 10 ms in the window`;
      }),
    ]),
  );
  return [
    '### CPU µs per committed checkout, by component',
    '',
    'CPU time of each component during the wrk window divided by the checkouts the order service committed in it. ' +
      'In (a) most answers are cheap already-paid repeats, so its per-commit figure includes them; see per request below.',
    '',
    perCommit,
    '',
    perRequest,
    '',
    '### CPU seconds by component (utime + stime from /proc, with children and threads)',
    '',
    seconds,
    '',
    '### read/write system calls per committed checkout, by component',
    '',
    'From `/proc/<pid>/io` (syscr + syscw): the socket reads and writes of Redis and Node, and the AOF writes of Redis. ' +
      "nginx's recv/send are not counted there.",
    '',
    syscalls,
    '',
    '### context switches per committed checkout, by component',
    '',
    'Voluntary + involuntary, every thread, from `/proc/<pid>/task/*/status`: each is a wake-up the kernel paid for.',
    '',
    ctxSwitches,
    '',
    '### replicated bytes per committed checkout, by Redis group',
    '',
    "Growth of each primary's `master_repl_offset` over the window: what every replica of the group receives, applies and appends to its AOF.",
    '',
    replicated,
    ...(gcServices.length === 0
      ? []
      : [
          '',
          '### garbage collection in the services, per committed checkout',
          '',
          "Node's own pause timings (`nodejs_gc_duration_seconds`, every kind), summed over replicas: pause time per commit, pauses per 1,000 commits, and pauses of 10 ms or more (each one stalls every checkout in that process).",
          '',
          gc,
        ]),
    ...(batchKinds.length === 0
      ? []
      : [
          '',
          '### batch sizes',
          '',
          'Calls that shared one batch (`shop_batch_size`), summed over replicas: mean (median / p90, interpolated in the buckets 1, 2, 4 … 256), and batches per committed checkout. ' +
            '`checkout_*`: one pipeline of that script at the order Redis; `steps_to_*`: the steps of one internal request the order service sent; `steps`: the steps of one internal request a participant received.',
          '',
          batches,
        ]),
  ].join('\n');
}

function redisTable(r: ScenarioResult): string {
  if (r.redisCommands === undefined) return '';
  const c = Math.max(1, commits(r));
  const rows: string[][] = [];
  for (const [g, cmds] of Object.entries(r.redisCommands)) {
    for (const [cmd, s] of Object.entries(cmds).sort((a, b) => b[1].usec - a[1].usec)) {
      rows.push([g, cmd, f0(s.calls), (s.calls / c).toFixed(2), (s.usec / s.calls).toFixed(1), f1(s.usec / c)]);
    }
  }
  return [
    '',
    'Redis `INFO commandstats` on the primaries, during the window (time inside the command only; ' +
      'network, parsing and replication are in the process CPU above):',
    '',
    table(['group', 'command', 'calls', 'calls/commit', 'µs/call', 'µs/commit'], rows),
  ].join('\n');
}

function scenarioSection(scenario: string, runs: ScenarioResult[], plots: string[]): string {
  const out: string[] = [`## ${runs[0]!.title}`, ''];
  for (const p of plots) out.push(`![${p}](${p})`, '');
  for (const r of runs) {
    out.push(`### durability ${r.durability}`, '');
    out.push(`\`${r.wrkCommand}\``, '');
    out.push(
      r.batchInit.length === 0 ? 'No data loaded (batch_init): the skeleton reads none.' : `batch_init: ${r.batchInit.map((b) => `${b.call} n=${f0(b.n)}: **${f0(b.ms)} ms**`).join('; ')}.`,
      '',
      `Window ${r.windowS.toFixed(1)} s; settled ${(r.settleMs / 1000).toFixed(1)} s after wrk stopped.`,
      '',
      `wrk: ${f0(r.wrk.requests)} answers, ${f0(r.wrk.errStatus)} with status ≥ 400, ` +
        `errors connect ${r.wrk.errConnect} read ${r.wrk.errRead} write ${r.wrk.errWrite} timeout ${r.wrk.errTimeout}; ` +
        `latency mean ${ms(r.wrk.latMeanUs)} ms, p75 ${ms(r.wrk.latPercentilesUs['75'])}, p99.9 ${ms(r.wrk.latPercentilesUs['99.9'])}, max ${ms(r.wrk.latMaxUs)} ms.`,
      '',
      `Checkout outcomes (order service, until settled): ${Object.entries(r.outcomesSettled).map(([k, v]) => `${k} ${f0(v)}`).join(', ') || 'none'}. ` +
        `HTTP statuses: ${Object.entries(r.statuses).map(([k, v]) => `${k}: ${f0(v)}`).join(', ') || '–'}.`,
      '',
      `Requests served during the window: ${Object.entries(r.requests).map(([k, v]) => `${k} ${f0(v)}`).join(', ') || '–'}.`,
      '',
    );
    if (r.checks.length > 0) {
      out.push(table(['check', 'result', 'detail'], r.checks.map((c) => [c.name, c.ok ? 'ok' : '**FAILED**', c.detail])), '');
    }
    out.push(redisTable(r), '');
  }
  return out.join('\n');
}

/** Replicas of one service merged: `order-0`, `order-1` → order. */
function profileSection(run: string, profiles: ProfileSummary[]): string {
  const byService = new Map<string, ProfileSummary[]>();
  for (const p of profiles) {
    const svc = p.replica.replace(/-\d+$/, '');
    byService.set(svc, [...(byService.get(svc) ?? []), p]);
  }
  const out: string[] = [
    `## Where the services' CPU goes: ${run} (V8 CPU profile of the wrk window)`,
    '',
    'Self time, replicas of a service added together. The profiler itself slows the services down: ' +
      'throughput of a --cpu-prof run is not comparable with one without. ' +
      "V8 samples by wall clock, so time a process spends descheduled inside a system call (a socket write " +
      "that wakes its peer on a busy machine) counts against that call: read the write functions' shares as " +
      'time, not CPU. The CPU tables above (from /proc, kernel share included) are the CPU.',
    '',
  ];
  for (const [svc, ps] of byService) {
    const total = sum(ps.map((p) => p.totalMs));
    const buckets = new Map<string, number>();
    const fns = new Map<string, number>();
    for (const p of ps) {
      for (const b of p.byBucket) buckets.set(b.bucket, (buckets.get(b.bucket) ?? 0) + b.ms);
      for (const f of p.topFunctions) fns.set(`\`${f.fn}\` ${f.where}`, (fns.get(`\`${f.fn}\` ${f.where}`) ?? 0) + f.ms);
    }
    const pct = (x: number): string => `${((100 * x) / Math.max(total, 1e-9)).toFixed(1)}%`;
    out.push(`### ${svc} (${ps.length} processes, ${f0(total)} ms sampled)`, '');
    out.push(
      table(
        ['where (self time)', 'ms', 'share'],
        [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([b, v]) => [b, f0(v), pct(v)]),
      ),
      '',
      table(
        ['hottest functions', 'ms', 'share'],
        [...fns].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([f, v]) => [f, f0(v), pct(v)]),
      ),
      '',
    );
  }
  return out.join('\n');
}

export function writeReport(dir: string, result: BenchResult): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify(result, null, 1) + '\n');
  const byScenario = new Map<string, ScenarioResult[]>();
  for (const r of result.runs) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  const o = result.options;
  const md: string[] = [
    '# Checkout benchmark',
    '',
    `${result.startedAt} → ${result.finishedAt}. Machine: ${result.machine.cpus} CPUs (${result.machine.model}), ${result.machine.kernel}, ` +
      `Node ${result.machine.node}, ${result.machine.wrk}. Target: ${result.target}.`,
    '',
    `Options: ${o.durationS} s per scenario, ${o.connections} connections, ${o.threads} wrk threads, layout ${o.layout}, ` +
      `${o.replicas} replicas per service, wrk CPUs ${o.wrkCpus ?? 'unpinned'}, cluster CPUs ${o.clusterCpus ?? 'unpinned'}` +
      `${o.nodeOptions === undefined ? '' : `, services' NODE_OPTIONS \`${o.nodeOptions}\``}. ` +
      'The load generator runs on the same machine and competes with the system for the same cores.',
    '',
    '## Summary',
    '',
    'Latency is wrk\'s (closed loop: each connection waits for its answer, so queueing shows up as latency, not as lost requests). ' +
      'committed/s counts the order service\'s `shop_checkouts_total{outcome="committed"}` over the wrk window. ' +
      'BUSY waits: reserves answered BUSY during the window (the order service\'s `shop_checkout_busy_waits_total`), each a wait and a retry of that checkout. ' +
      'Busy neighbours: cores busy on the machine outside the system under test, wrk and the bench (other work on the shared machine, ' +
      'plus kernel time not charged to a process); a figure well above 0 means the run had fewer cores than the machine has.',
    '',
    summary(result.runs),
    '',
    ...ceilingLines(result.runs).flatMap((l) => [l, '']),
    cpuTables(result.runs),
    '',
  ];
  for (const [scenario, runs] of byScenario) md.push(scenarioSection(scenario, runs, writePlots(dir, scenario, runs)));
  for (const r of result.runs) if (r.profiles !== undefined && r.profiles.length > 0) md.push(profileSection(`(${r.label}) ${r.scenario}, durability ${r.durability}`, r.profiles));
  fs.writeFileSync(path.join(dir, 'report.md'), md.join('\n') + '\n');
}
