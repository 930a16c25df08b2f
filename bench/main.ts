/** `npm run bench`: see cli.ts for the options and scenarios.ts for what each scenario does. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { USAGE, parseCli, type BenchOptions } from './cli.js';
import { writeReport } from './report.js';
import { abort, runBench, type BenchResult } from './run.js';

function wrkVersion(): string {
  try {
    execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // wrk -v prints its version and exits 1.
    const out = (err as { stdout?: string }).stdout ?? '';
    const m = /^wrk (\S+)/m.exec(out);
    if (m !== null) return `wrk ${m[1]}`;
    throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  }
  return 'wrk';
}

async function main(): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options = opts;
  const result: BenchResult = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model ?? '?',
      kernel: `${os.type()} ${os.release()}`,
      node: process.versions.node,
      wrk: wrkVersion(),
    },
    options,
    target: options.url ?? `a ${options.layout} cluster started by the bench`,
    runs: [],
  };

  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping wrk and the cluster\n`);
    abort().then(
      () => process.exit(130),
      () => process.exit(130),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const save = (): void => {
    result.finishedAt = new Date().toISOString();
    writeReport(options.outDir, result);
  };
  try {
    await runBench(options, (r) => {
      result.runs.push(r);
      // After every scenario, so an interrupted or failed invocation keeps what it measured.
      save();
    });
  } finally {
    if (result.runs.length > 0) {
      save();
      process.stderr.write(`report: ${path.relative(process.cwd(), path.join(options.outDir, 'report.md'))}\n`);
    }
  }
  const failed = result.runs.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `(${r.label}) ${r.durability}: ${c.name}: ${c.detail}`));
  for (const f of failed) process.stderr.write(`FAILED ${f}\n`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
