/** The command line of `npm run chaos`. */
import { parseArgs } from 'node:util';
import type { FaultClass } from './faults.js';
import { randomSeed } from './prng.js';
import type { ChaosOptions } from './report.js';
import { DEFAULT_OPTIONS } from './run.js';

export const USAGE = `usage: npm run chaos -- [options]

Starts its own cluster on free loopback ports, sets up users and items through the API, runs
a seeded workload and seeded faults (one at a time) together, heals the cluster, then judges
every answer against the final state and writes a JSON and a Markdown report. Exits 0 when
it found no violation, 1 when it did. Report terms: docs/glossary.md.

  --duration S         seconds of load and faults (default ${DEFAULT_OPTIONS.durationS})
  --seed N             seed of the workload and the faults (default: random, printed)
  --faults LIST        service (kill/pause service replicas), db (kill/pause Redis
                       primaries), service,db, or none (default ${DEFAULT_OPTIONS.faults.join(',')})
  --rate S             mean seconds from one fault healing to the next (default ${DEFAULT_OPTIONS.rateS})
  --layout ha|single   cluster layout (default ${DEFAULT_OPTIONS.layout})
  --replicas N         replicas of each service (default ${DEFAULT_OPTIONS.replicas})
  --concurrency N      concurrent workload clients (default ${DEFAULT_OPTIONS.concurrency})
  --report DIR         where the reports go (default ${DEFAULT_OPTIONS.reportDir})
  --help               this text`;

/** The options parseArgs accepts: the usage test checks that USAGE names every one. */
export const OPTIONS = {
  duration: { type: 'string' },
  seed: { type: 'string' },
  faults: { type: 'string' },
  rate: { type: 'string' },
  layout: { type: 'string' },
  replicas: { type: 'string' },
  concurrency: { type: 'string' },
  report: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positive(name: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, not ${raw}`);
  return n;
}

export function parseOptions(argv: string[]): ChaosOptions | 'help' {
  const { values } = parseArgs({ args: argv, strict: true, options: OPTIONS });
  if (values.help === true) return 'help';
  const faults = (values.faults ?? DEFAULT_OPTIONS.faults.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'none');
  for (const f of faults) if (f !== 'service' && f !== 'db') throw new Error(`--faults takes service and/or db, not ${f}`);
  const layout = values.layout ?? DEFAULT_OPTIONS.layout;
  if (layout !== 'ha' && layout !== 'single') throw new Error(`--layout is ha or single, not ${layout}`);
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, not ${values.seed}`);
  return {
    durationS: positive('duration', values.duration, DEFAULT_OPTIONS.durationS, false),
    seed,
    faults: faults as FaultClass[],
    rateS: positive('rate', values.rate, DEFAULT_OPTIONS.rateS, false),
    layout,
    replicas: positive('replicas', values.replicas, DEFAULT_OPTIONS.replicas, true),
    concurrency: positive('concurrency', values.concurrency, DEFAULT_OPTIONS.concurrency, true),
    reportDir: values.report ?? DEFAULT_OPTIONS.reportDir,
  };
}
