/** Command line of `npm run load`, and the locust command it turns into. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { positiveInt } from '../cli.js';

/** Locustfile (in bench/locust/) and user class of each shape. */
export const SHAPES = {
  stress: { file: 'locustfile.py', userClass: 'CheckoutUser' },
  mixed: { file: 'mixed.py', userClass: 'ShopUser' },
} as const;
export type Shape = keyof typeof SHAPES;

export const DEFAULT_HOST = 'http://127.0.0.1:8000';
/** Where the web UI listens: loopback, like every port `npm start` opens. */
export const WEB_UI = { host: '127.0.0.1', port: 8089 } as const;
export const INSTALL_HINT = 'locust is not installed: on Debian, apt-get install python3-locust (then run npm run load again)';

export const USAGE = `usage: npm run load -- [options]

Runs locust (Debian's python3-locust) with the shop's locustfile, bench/locust/, against a
running system (npm start). Headless by default: prints locust's summary and exits non-zero
when any request failed. With --web, serves locust's web UI on http://${WEB_UI.host}:${WEB_UI.port}
instead, where the swarm is started and watched.

  --shape stress|mixed   stress: checkouts of random batch_init orders (the course's shape;
                         loads that data itself first); mixed: users, items, orders, addItem,
                         checkout and reads with its own data (default stress)
  --users N              simulated users (default 100)
  --spawn-rate N         users started per second (default: --users / 5, at least 1)
  --duration SECONDS     headless run time, e.g. 60, 60s or 2m (default 60s)
  --orders N             stress: batch_init orders to draw from (default 100000)
  --host URL             the gateway (default ${DEFAULT_HOST})
  --csv PREFIX           also write locust's CSV stats to PREFIX_stats.csv, ...
  --web                  serve the web UI instead of running headless
  --help                 this text`;

export const OPTIONS = {
  shape: { type: 'string' },
  users: { type: 'string' },
  'spawn-rate': { type: 'string' },
  duration: { type: 'string' },
  orders: { type: 'string' },
  host: { type: 'string' },
  csv: { type: 'string' },
  web: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LoadOptions {
  shape: Shape;
  users: number;
  spawnRate: number;
  durationS: number;
  orders: number;
  host: string;
  csv: string | undefined;
  web: boolean;
}

/** `60`, `60s`, `2m` or `1h` in seconds. */
export function parseDuration(raw: string): number {
  const m = /^([1-9][0-9]*)([smh]?)$/.exec(raw);
  if (m === null) throw new Error(`--duration must be like 60, 60s, 2m or 1h, got ${raw}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : m[2] === 'h' ? 3600 : 1);
}

export function parseLoadCli(argv: string[]): LoadOptions | 'help' {
  const { values } = parseArgs({ args: argv, strict: true, options: OPTIONS });
  if (values.help === true) return 'help';
  const shape = values.shape ?? 'stress';
  if (!(shape in SHAPES)) throw new Error(`--shape must be ${Object.keys(SHAPES).join(' or ')}, got ${shape}`);
  const users = positiveInt('users', values.users, 100);
  const host = (values.host ?? DEFAULT_HOST).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(host)) throw new Error(`--host must be a URL like ${DEFAULT_HOST}, got ${host}`);
  return {
    shape: shape as Shape,
    users,
    spawnRate: positiveInt('spawn-rate', values['spawn-rate'], Math.max(1, Math.round(users / 5))),
    durationS: parseDuration(values.duration ?? '60s'),
    orders: positiveInt('orders', values.orders, 100_000),
    host,
    csv: values.csv,
    web: values.web === true,
  };
}

/** The locust command line and environment for these options. */
export function locustCommand(o: LoadOptions, repoRoot: string): { args: string[]; env: Record<string, string> } {
  const shape = SHAPES[o.shape];
  const args = ['-f', path.join(repoRoot, 'bench', 'locust', shape.file), '--host', o.host, '-u', String(o.users), '-r', String(o.spawnRate)];
  if (o.web) args.push('--web-host', WEB_UI.host, '--web-port', String(WEB_UI.port));
  // A headless run ends by itself and reports only at the end; the web UI runs until stopped.
  else args.push('--headless', '--only-summary', '-t', `${o.durationS}s`);
  if (o.csv !== undefined) args.push('--csv', o.csv);
  args.push(shape.userClass);
  return { args, env: { SHOP_ORDERS: String(o.orders) } };
}
