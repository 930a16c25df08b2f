/** The command line of `npm run chaos`. */
import { parseArgs } from 'node:util';
import type { TargetClass } from './faults.js';
import { randomSeed } from './prng.js';
import type { ChaosOptions } from './report.js';
import { DEFAULT_OPTIONS } from './run.js';

const CLASSES: readonly TargetClass[] = ['service', 'db', 'sentinel', 'gateway'];
export const STORM_FAULTS: readonly TargetClass[] = CLASSES;
export const DEFAULT_STORM_EVERY_S = 3;

export const USAGE = `usage: npm run chaos -- [options]

Starts its own cluster on free loopback ports, sets up users and items through the API, runs
a seeded workload and seeded faults together, heals the cluster, then judges every answer
against the final state, and every failed checkout against whether a path existed, and
writes a JSON and a Markdown report. Exits 0 when it found no violation, 1 when it did.
Report terms: docs/glossary.md.

Faults come one at a time (each healed before the next), or with --storm on a fixed cadence
that never waits for healing, overlapping, often two in one group.

  --duration S         seconds of load and faults (default ${DEFAULT_OPTIONS.durationS})
  --seed N             seed of the workload and the faults (default: random, printed)
  --faults LIST        service (kill/pause service replicas), db (kill/pause Redis
                       primaries; with --storm also replicas), sentinel and gateway (with
                       --storm only), comma-separated, or none (default ${DEFAULT_OPTIONS.faults.join(',')};
                       with --storm: ${STORM_FAULTS.join(',')})
  --rate S             mean seconds from one fault healing to the next (default ${DEFAULT_OPTIONS.rateS})
  --storm              faults on a fixed cadence, overlapping, on any process of the topology
  --every S            with --storm: seconds between two faults (default ${DEFAULT_STORM_EVERY_S})
  --layout ha|single   cluster layout (default ${DEFAULT_OPTIONS.layout})
  --replicas N         replicas of each service (default ${DEFAULT_OPTIONS.replicas})
  --shards N           Redis groups per service, ha only above 1 (default 1); db faults
                       draw their target from every shard's group
  --concurrency N      concurrent workload clients (default ${DEFAULT_OPTIONS.concurrency})
  --report DIR         where the reports go (default ${DEFAULT_OPTIONS.reportDir})
  --help               this text`;

/** The options parseArgs accepts: the usage test checks that USAGE names every one. */
export const OPTIONS = {
  duration: { type: 'string' },
  seed: { type: 'string' },
  faults: { type: 'string' },
  rate: { type: 'string' },
  storm: { type: 'boolean' },
  every: { type: 'string' },
  layout: { type: 'string' },
  replicas: { type: 'string' },
  shards: { type: 'string' },
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
  const storm = values.storm === true;
  if (!storm && values.every !== undefined) throw new Error('--every goes with --storm');
  const faults = (values.faults ?? (storm ? STORM_FAULTS : DEFAULT_OPTIONS.faults).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'none');
  const allowed: readonly string[] = storm ? CLASSES : ['service', 'db'];
  for (const f of faults) if (!allowed.includes(f)) throw new Error(`--faults takes ${allowed.join(', ')}${storm ? '' : ' (sentinel and gateway with --storm)'}, not ${f}`);
  const layout = values.layout ?? DEFAULT_OPTIONS.layout;
  if (layout !== 'ha' && layout !== 'single') throw new Error(`--layout is ha or single, not ${layout}`);
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, not ${values.seed}`);
  return {
    durationS: positive('duration', values.duration, DEFAULT_OPTIONS.durationS, false),
    seed,
    faults: faults as TargetClass[],
    rateS: positive('rate', values.rate, DEFAULT_OPTIONS.rateS, false),
    ...(storm ? { storm: { everyS: positive('every', values.every, DEFAULT_STORM_EVERY_S, false) } } : {}),
    layout,
    replicas: positive('replicas', values.replicas, DEFAULT_OPTIONS.replicas, true),
    ...(values.shards !== undefined ? { shards: positive('shards', values.shards, 1, true) } : {}),
    concurrency: positive('concurrency', values.concurrency, DEFAULT_OPTIONS.concurrency, true),
    reportDir: values.report ?? DEFAULT_OPTIONS.reportDir,
  };
}
