/** Command line of `npm start` / `node packages/launcher/dist/src/main.js`. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONSOLE_PORT } from './console/server.js';
import { DEFAULT_LOG_MAX_BYTES } from './logs.js';
import { DEFAULT_OPTIONS, MAX_REPLICAS, MAX_SHARDS, type Layout } from './topology.js';

export interface CliOptions {
  layout: Layout;
  replicas: number;
  /** Redis groups per service (ha only above 1). */
  shards: number;
  port: number;
  /** The operator console's port on 127.0.0.1; 0: no console. */
  consolePort: number;
  basePort: number;
  dataDir: string;
  /** Rotate a log over this many bytes. */
  logMaxBytes: number;
  wipe: boolean;
  /** A snapshot directory (npm run snapshot) to start from, into a data dir without data. */
  restore: string | undefined;
  stopWithParent: boolean;
  help: boolean;
}

export const USAGE = `Usage: node packages/launcher/dist/src/main.js [options]   (or: npm start -- [options])

Runs the whole shop on this machine: Redis (and Sentinels), ${DEFAULT_OPTIONS.replicas} replicas of each
service and the nginx gateway, in the foreground. Ctrl-C stops everything; data stays.

  --layout ha|single   ha: each service's Redis is a primary + 2 replicas watched by
                       3 Sentinels; single: one Redis per service (default ${DEFAULT_OPTIONS.layout})
  --replicas N         replicas of each service, 1..${MAX_REPLICAS} (default ${DEFAULT_OPTIONS.replicas})
  --shards N           spread each service's data over N Redis groups (each a primary +
                       2 replicas, all watched by the same 3 Sentinels), 1..${MAX_SHARDS}; ha
                       layout only above 1 (default 1)
  --port N             gateway port on 127.0.0.1 (default ${DEFAULT_OPTIONS.gatewayPort})
  --console-port N     operator console (live view, transaction inspector) on 127.0.0.1,
                       read-only, never behind the gateway; 0: none (default ${DEFAULT_CONSOLE_PORT})
  --base-port N        first of the 250 internal ports (default ${DEFAULT_OPTIONS.basePort})
  --data-dir DIR       data, configs and logs (default ${DEFAULT_OPTIONS.dataDir}); made owner-only
  --log-max-mb N       copy a log over N MiB to <log>.1 and empty it, at each start and
                       every minute (default ${DEFAULT_LOG_MAX_BYTES / 2 ** 20})
  --wipe               delete the data dir's contents first
  --restore DIR        start from a snapshot (npm run snapshot) written to DIR; the data
                       dir must hold no data (a fresh --data-dir, or --wipe); the snapshot
                       is checked whole first and refused if corrupt or partial
  --stop-with-parent   also stop everything when the process that started this one exits
                       (npm start passes it: killing npm, even with SIGKILL, stops it all)
  --help               this text

Environment: SHOP_REDIS_PASSWORD, SHOP_INTERNAL_SECRET (else generated once into the data
dir), LOG_LEVEL and SHOP_CRASH_POINT (passed to the services), SHOP_SERVICE_ENTRY_DIR
(directory with <service>/dist/src/main.js, default: the built packages).`;

/** The options parseArgs accepts: the usage test checks that USAGE names every one. */
export const OPTIONS = {
  layout: { type: 'string' },
  replicas: { type: 'string' },
  shards: { type: 'string' },
  port: { type: 'string' },
  'console-port': { type: 'string' },
  'base-port': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-max-mb': { type: 'string' },
  wipe: { type: 'boolean', default: false },
  restore: { type: 'string' },
  'stop-with-parent': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

function int(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  return n;
}

function logMaxMb(raw: string | undefined): number {
  const mb = int('log-max-mb', raw, DEFAULT_LOG_MAX_BYTES / 2 ** 20);
  if (mb < 1) throw new UsageError('--log-max-mb must be at least 1');
  return mb;
}

export function parseCli(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: OPTIONS }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const layout = values.layout ?? DEFAULT_OPTIONS.layout;
  if (layout !== 'ha' && layout !== 'single') throw new UsageError(`--layout must be ha or single, got "${layout}"`);
  return {
    layout,
    replicas: int('replicas', values.replicas, DEFAULT_OPTIONS.replicas),
    shards: int('shards', values.shards, 1),
    port: int('port', values.port, DEFAULT_OPTIONS.gatewayPort),
    consolePort: int('console-port', values['console-port'], DEFAULT_CONSOLE_PORT),
    basePort: int('base-port', values['base-port'], DEFAULT_OPTIONS.basePort),
    dataDir: path.resolve(values['data-dir'] ?? DEFAULT_OPTIONS.dataDir),
    logMaxBytes: logMaxMb(values['log-max-mb']) * 2 ** 20,
    wipe: values.wipe ?? false,
    restore: values.restore === undefined ? undefined : path.resolve(values.restore),
    stopWithParent: values['stop-with-parent'] ?? false,
    help: values.help ?? false,
  };
}
