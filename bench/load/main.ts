/** `npm run load`: runs locust with the shop's locustfile (see cli.ts for the options). */
import { spawn, spawnSync } from 'node:child_process';
import { repoRoot } from '@shop/launcher/entry.js';
import { INSTALL_HINT, USAGE, locustCommand, parseLoadCli, type LoadOptions } from './cli.js';

/** The locust the shell would run (PATH only, as `command -v` looks), or undefined. */
function findLocust(): string | undefined {
  const r = spawnSync('/bin/sh', ['-c', 'command -v locust'], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found !== '' ? found : undefined;
}

async function main(): Promise<number> {
  let opts: LoadOptions | 'help';
  try {
    opts = parseLoadCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const locust = findLocust();
  if (locust === undefined) {
    process.stderr.write(`${INSTALL_HINT}\n`);
    return 1;
  }
  const { args, env } = locustCommand(opts, repoRoot());
  process.stderr.write(`load: ${locust} ${args.join(' ')}\n`);
  const child = spawn(locust, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  // Ctrl-C reaches locust too (same process group): let it stop and print its summary, and
  // pass a SIGTERM sent to this process on, so locust never outlives it.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`load: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

process.exitCode = await main();
