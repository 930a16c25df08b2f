/**
 * `npm start`: runs the whole shop on this machine in the foreground until Ctrl-C/SIGTERM.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCli, USAGE, UsageError, type CliOptions } from './cli.js';
import { CONSOLE_HOST, startConsole, type ConsoleHandle } from './console/server.js';
import { findServiceEntry, repoRoot } from './entry.js';
import { localTopology } from './local.js';
import { writeLaunchRecord } from './launch-record.js';
import { SnapshotError } from './snapshot/errors.js';
import { layInSnapshot } from './snapshot/restore.js';
import { acquireLock, LockedError } from './lock.js';
import { PidRegistry } from './orphans.js';
import { tolerateClosedOutput } from './output.js';
import { privateUmask } from './private.js';
import { watchParent } from './parent-watch.js';
import { MissingToolsError, resolveBinaries } from './prereqs.js';
import { portFree, sleep } from '@shop/common/probes.js';
import { loadSecrets } from './secrets.js';
import { Supervisor } from './supervisor.js';
import { startedTable } from './table.js';
import { listeningPorts, localRunDir, SERVICES, TopologyError, type Topology } from './topology.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} [launcher] ${line}\n`);
}

/** Empties the data dir but keeps our own lock in place. */
function wipe(dataDir: string, lockFile: string): void {
  for (const entry of fs.readdirSync(dataDir)) {
    const p = path.join(dataDir, entry);
    if (p !== lockFile) fs.rmSync(p, { recursive: true, force: true });
  }
}

/** Environment the launcher passes through to every service. */
function passThroughEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['LOG_LEVEL', 'SHOP_CRASH_POINT']) {
    const v = process.env[k];
    if (v !== undefined && v !== '') env[k] = v;
  }
  return env;
}

/** How long a launcher that killed its predecessor's servers waits for their ports. */
const LEFTOVER_PORTS_WAIT_MS = 5_000;

async function portsInUse(t: Topology, consolePort: number): Promise<number[]> {
  const busy: number[] = [];
  for (const p of [...listeningPorts(t), ...(consolePort > 0 ? [consolePort] : [])]) if (!(await portFree(p))) busy.push(p);
  return busy;
}

async function run(cli: CliOptions): Promise<number> {
  const binaries = resolveBinaries({ install: true, log });
  const entry = findServiceEntry();
  if (entry === undefined) {
    log(`the services are not built (no <service>/dist/src/main.js under ${path.join(repoRoot(), 'packages')}): run npm run build`);
    return 1;
  }
  // Before the lock creates the data dir: everything in it is owner-only (private.ts).
  privateUmask();
  const lock = acquireLock(cli.dataDir);
  try {
    if (lock.tookOver) log(`took over the stale lock of a launcher that is gone (${lock.file})`);
    // A launcher killed outright leaves its servers running on our ports and files: end
    // them before anything else (--wipe would delete the record of their pids).
    const leftovers = await new PidRegistry(localRunDir(cli.dataDir)).reapLeftovers();
    if (leftovers.length > 0) log(`killed processes left by the previous launcher: ${leftovers.join(', ')}`);
    if (cli.wipe) {
      log(`wiping ${cli.dataDir}`);
      wipe(cli.dataDir, lock.file);
    }
    const secrets = loadSecrets(cli.dataDir, {
      ...(process.env.SHOP_REDIS_PASSWORD ? { password: process.env.SHOP_REDIS_PASSWORD } : {}),
      ...(process.env.SHOP_INTERNAL_SECRET ? { internalSecret: process.env.SHOP_INTERNAL_SECRET } : {}),
    });
    const extra = passThroughEnv();
    const topology = localTopology({
      layout: cli.layout,
      replicas: cli.replicas,
      shards: cli.shards,
      gatewayPort: cli.port,
      basePort: cli.basePort,
      dataDir: cli.dataDir,
      secrets,
      binaries,
      serviceEntry: entry,
      repoRoot: repoRoot(),
      serviceEnv: Object.fromEntries(SERVICES.map((s) => [s, extra])),
    });
    const supervisor = new Supervisor({ topology, log, logMaxBytes: cli.logMaxBytes });
    let stopping: Promise<void> | undefined;
    let wake: () => void = () => undefined;
    const stopRequested = new Promise<void>((resolve) => {
      wake = resolve;
    });
    let stopAskedAt = 0;
    const requestStop = (why: string): void => {
      if (stopping !== undefined) {
        // A Ctrl-C reaches the launcher twice, from the terminal and passed on by npm.
        if (Date.now() - stopAskedAt > 1000) log(`${why} again: still stopping (children get SIGKILL after a few seconds)`);
        return;
      }
      stopAskedAt = Date.now();
      log(`${why}: stopping everything`);
      stopping = supervisor.stop();
      wake();
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, requestStop);
    const unwatch = cli.stopWithParent ? watchParent(() => requestStop('the parent process exited')) : () => undefined;

    if (cli.consolePort > 0 && listeningPorts(topology).includes(cli.consolePort)) {
      log(`--console-port ${cli.consolePort} is one of the cluster's own ports; choose another`);
      return 1;
    }
    let busy = await portsInUse(topology, cli.consolePort);
    // The kernel frees a killed server's ports a little after its processes are gone (up to
    // ~0.1 s measured here, more on a loaded machine): give the leftovers' ports that long.
    const portsDeadline = Date.now() + (leftovers.length > 0 ? LEFTOVER_PORTS_WAIT_MS : 0);
    while (busy.length > 0 && Date.now() < portsDeadline) {
      await sleep(50);
      busy = await portsInUse(topology, cli.consolePort);
    }
    if (busy.length > 0) {
      log(`ports already in use: ${busy.join(', ')}; choose others with --port / --base-port / --console-port`);
      return 1;
    }
    if (cli.restore !== undefined) {
      try {
        const m = layInSnapshot(topology, cli.restore);
        log(`restoring the snapshot taken at ${m.takenAt} (${m.orders.total} orders, ${m.orders.paid} paid) from ${cli.restore}`);
      } catch (err) {
        if (!(err instanceof SnapshotError)) throw err;
        log(`cannot restore: ${err.message}`);
        return 1;
      }
    }
    writeLaunchRecord(localRunDir(cli.dataDir), { layout: cli.layout, replicas: cli.replicas, shards: cli.shards, gatewayPort: cli.port, basePort: cli.basePort });
    const shards = cli.shards > 1 ? `, ${cli.shards} Redis shards per service` : '';
    log(`starting the ${cli.layout} layout (${cli.replicas} replicas per service${shards}) in ${cli.dataDir}`);
    try {
      await supervisor.start();
    } catch (err) {
      if (stopping !== undefined) {
        await stopping;
        return 0;
      }
      log(`start failed: ${(err as Error).message}`);
      return 1;
    }
    let operatorConsole: ConsoleHandle | undefined;
    if (stopping === undefined && cli.consolePort > 0) {
      // The shop runs without its console: a port taken meanwhile is reported, not fatal.
      operatorConsole = await startConsole({ topology, processes: () => supervisor.processes, port: cli.consolePort }).catch((err: unknown) => {
        log(`operator console not started on ${CONSOLE_HOST}:${cli.consolePort}: ${(err as Error).message}`);
        return undefined;
      });
    }
    if (stopping === undefined) {
      process.stdout.write(`${startedTable(topology, supervisor.processes)}\n\n`);
      process.stdout.write(`Gateway: ${topology.gateway.url}   logs: ${topology.logDir}   Ctrl-C stops everything.\n`);
      if (operatorConsole !== undefined) process.stdout.write(`Console: ${operatorConsole.url}   (operator only: live view and transaction inspector)\n`);
    }
    await stopRequested;
    await operatorConsole?.stop();
    await stopping;
    unwatch();
    log('stopped');
    return 0;
  } finally {
    lock.release();
  }
}

export async function main(argv: string[]): Promise<number> {
  tolerateClosedOutput();
  let cli: CliOptions;
  try {
    cli = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (cli.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    return await run(cli);
  } catch (err) {
    if (err instanceof LockedError || err instanceof MissingToolsError || err instanceof TopologyError) {
      log(err.message);
      return 1;
    }
    throw err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      log(`fatal: ${(err as Error).stack ?? String(err)}`);
      process.exitCode = 1;
    },
  );
}
