/**
 * `npm run snapshot -- <dir>`: a consistent snapshot (take.ts) of the shop that `npm start`
 * runs on a data dir, or of a deployment reached through its Sentinels (source.ts); once,
 * or on a schedule with retention (scheduler.ts). The command line: cli.ts.
 *
 * SIGTERM and SIGINT stop it cleanly: a snapshot under way is abandoned (its freeze lifted,
 * its partial directory removed), a schedule ends. A second signal exits at once.
 */
import { pathToFileURL } from 'node:url';
import { which } from '../prereqs.js';
import { setLowPriority } from './check.js';
import { parseCli, USAGE, type SnapshotCli } from './cli.js';
import { SnapshotError, UsageError } from './errors.js';
import { failedLine, okLine } from './report.js';
import { withRetries } from './retry.js';
import { runSchedule, snapshotInto } from './scheduler.js';
import { openSentinelSource, sourceOf, topologyOfDataDir } from './source.js';
import { takeSnapshot, type Manifest, type SnapshotSource } from './take.js';

const progress = (line: string): void => void process.stderr.write(`[snapshot] ${line}\n`);
const report = (line: string): void => void process.stdout.write(`${line}\n`);

/** Takes one snapshot into `dir` as the command line says, with its retries; the source is looked up afresh each attempt. */
function taker(cli: SnapshotCli, redisServer: string, signal: AbortSignal): (dir: string) => Promise<Manifest> {
  const at = cli.at;
  const open = async (): Promise<SnapshotSource> => (at.kind === 'sentinels' ? openSentinelSource(at) : sourceOf(topologyOfDataDir(at.dataDir)));
  return (dir) =>
    withRetries(
      async () =>
        takeSnapshot(await open(), dir, {
          drainTimeoutMs: cli.drainTimeoutMs,
          // Receiving and checking the copies need not be quick; the cut (freeze to thaw) must
          // be. A schedule keeps its priority: a process cannot raise it again for the next cut.
          ...(cli.everyMs === undefined ? { afterCut: () => setLowPriority(process.pid) } : {}),
          redisServer,
          log: progress,
          signal,
        }),
      { retries: cli.retries, signal, log: progress },
    );
}

async function main(argv: string[]): Promise<number> {
  let cli;
  try {
    cli = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`snapshot: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (cli === 'help') {
    report(USAGE);
    return 0;
  }
  // The check loads each copy into a scratch redis-server: without one nothing can be taken.
  const redisServer = which('redis-server');
  if (redisServer === undefined) throw new SnapshotError('the check of each copy runs a scratch redis-server: install it (apt-get install redis-server)');
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stop.signal.aborted) process.exit(130);
      progress(`${sig}: stopping (a snapshot under way is abandoned, its freeze lifted)`);
      stop.abort();
    });
  }
  const take = taker(cli, redisServer, stop.signal);
  const stamped = { root: cli.dir, keep: cli.keep, retries: cli.retries, take, report };
  if (cli.everyMs !== undefined) {
    progress(`every ${cli.everyMs / 1000} s into ${cli.dir}/<UTC time>/${cli.keep === undefined ? '' : `, keeping the newest ${cli.keep}`}`);
    const done = await runSchedule({ ...stamped, periodMs: cli.everyMs, signal: stop.signal });
    progress(`stopped: ${done.taken} taken, ${done.failed} failed`);
    return 0;
  }
  if (cli.stamped) return (await snapshotInto(stamped)) ? 0 : 1;
  try {
    report(okLine(cli.dir, await take(cli.dir)));
    return 0;
  } catch (err) {
    report(failedLine(cli.dir, err, cli.retries));
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`snapshot failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
