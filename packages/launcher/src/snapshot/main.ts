/**
 * `npm run snapshot -- <dir>`: a consistent snapshot (take.ts) of the shop that `npm start`
 * runs on this checkout's data dir.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { agreedPrimary } from '@shop/common/replication/one-shot.js';
import { repoRoot } from '../entry.js';
import { readLaunchRecord } from '../launch-record.js';
import { storedSecrets } from '../secrets.js';
import { localTopology } from '../local.js';
import { resolveBinaries } from '../prereqs.js';
import { groupsOf, localRunDir, redisGroup, type Topology } from '../topology.js';
import { setLowPriority } from './check.js';
import { SnapshotError } from './errors.js';
import { takeSnapshot, type SnapshotSource } from './take.js';

export const USAGE = `usage: npm run snapshot -- <dir> [options]

Writes one consistent cut of every service's data into <dir> (new or empty): one RDB file
per Redis group and manifest.json (time, layout, shards, checksums, the cut's counts). New
checkouts wait while the unfinished ones end and every primary marks its point (tens of ms);
none fails. Restore with: npm start -- --restore <dir> --data-dir <fresh dir>

  --data-dir DIR          the running system's data dir (default ./data)
  --drain-timeout-ms N    longest wait for unfinished checkouts to end (default 5000)
  --help                  this text`;

/** The running system of a data dir, as the snapshot reaches it. */
export function sourceOf(t: Topology): SnapshotSource {
  const groups = groupsOf(t).map((group) => {
    const first = redisGroup(t, group)[0]!;
    return { group, service: first.service, shard: first.shard };
  });
  return {
    layout: t.layout,
    shards: t.shards,
    groups,
    password: t.password,
    primaryOf: async (group) => {
      if (t.layout === 'single') return redisGroup(t, group)[0]!;
      const agreed = await agreedPrimary(t.sentinels, t.password, group);
      if (agreed.primary === undefined) throw new SnapshotError(`no Sentinel majority names a primary of ${group} (${agreed.answered} of ${agreed.asked} answered): is the shop running?`);
      return agreed.primary;
    },
  };
}

export function topologyOfDataDir(dataDir: string): Topology {
  const record = readLaunchRecord(localRunDir(dataDir));
  if (record === undefined) throw new SnapshotError(`no shop was started on ${dataDir} (no run/launch.json): start it with npm start, or pass --data-dir`);
  const secrets = storedSecrets(dataDir);
  if (secrets === undefined) throw new SnapshotError(`${dataDir} holds no secrets.json: not a data dir of npm start`);
  return localTopology({
    ...record,
    dataDir,
    secrets,
    binaries: resolveBinaries({ install: false, log: () => undefined }),
    serviceEntry: undefined,
    repoRoot: repoRoot(),
  });
}

export const OPTIONS = { 'data-dir': { type: 'string' }, 'drain-timeout-ms': { type: 'string' }, help: { type: 'boolean' } } as const;

export interface SnapshotCli {
  dir: string;
  dataDir: string;
  drainTimeoutMs: number;
}

/** The command line, or 'help'; throws SnapshotError on a wrong one. */
export function parseCli(argv: string[]): SnapshotCli | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    throw new SnapshotError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return 'help';
  if (positionals.length !== 1) throw new SnapshotError('give one snapshot directory');
  const drain = Number(values['drain-timeout-ms'] ?? 5000);
  if (!Number.isInteger(drain) || drain < 1) throw new SnapshotError(`--drain-timeout-ms must be a positive integer, got ${values['drain-timeout-ms']}`);
  return { dir: positionals[0]!, dataDir: path.resolve(values['data-dir'] ?? 'data'), drainTimeoutMs: drain };
}

async function main(argv: string[]): Promise<number> {
  const cli = parseCli(argv);
  if (cli === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const topology = topologyOfDataDir(cli.dataDir);
  const manifest = await takeSnapshot(sourceOf(topology), cli.dir, {
    drainTimeoutMs: cli.drainTimeoutMs,
    // Receiving and checking the copies need not be quick; the cut (freeze to thaw) must be.
    afterCut: () => setLowPriority(process.pid),
    redisServer: resolveBinaries({ install: false, log: () => undefined }).redisServer,
    log: (line) => process.stderr.write(`[snapshot] ${line}\n`),
  });
  const o = manifest.orders;
  process.stdout.write(
    `snapshot written to ${path.resolve(cli.dir)}: ${manifest.files.length} files, ${o.total} orders (${o.paid} paid), ${o.transactions} checkout transactions; checkouts paused ${manifest.pauseMs} ms, took ${manifest.tookMs} ms\n`,
  );
  return 0;
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
