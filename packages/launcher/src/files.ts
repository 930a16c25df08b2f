/**
 * Lays out a local topology on disk: directories, Redis/Sentinel/nginx configs.
 *
 * Redis and nginx configs are rewritten at every start (the launcher owns them). Sentinel
 * configs are kept when the topology is unchanged, because Sentinel records the current
 * primaries and epochs in them; a changed topology (ports, password) starts them afresh.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { nginxConfig } from './nginx.js';
import { redisConfig, sentinelConfig } from './redis-config.js';
import { faultProxyConfig, TopologyError, type Topology } from './topology.js';

const STATE_FILE = 'topology-state.json';

/** What the Sentinels' persisted state depends on. */
export function sentinelFingerprint(t: Topology): string {
  const material = JSON.stringify({
    layout: t.layout,
    // The announced port only when it differs: data dirs of unproxied runs keep their state.
    redis: t.redis.map((n) => (n.announcePort === n.port ? [n.name, n.host, n.port] : [n.name, n.host, n.port, n.announcePort])),
    sentinels: t.sentinels.map((s) => [s.name, s.host, s.port]),
    password: t.password,
  });
  return createHash('sha256').update(material).digest('hex');
}

interface LaidOut {
  sentinelFingerprint?: string;
  /** Shards per service the data was laid out for; absent: a data dir from before shards, 1. */
  shards: number;
}

/** What the previous start recorded; undefined for a fresh data dir. */
function readState(dataDir: string): LaidOut | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, STATE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as { sentinelFingerprint?: unknown; shards?: unknown };
    return {
      ...(typeof parsed.sentinelFingerprint === 'string' ? { sentinelFingerprint: parsed.sentinelFingerprint } : {}),
      shards: typeof parsed.shards === 'number' ? parsed.shards : 1,
    };
  } catch {
    return { shards: 1 };
  }
}

/**
 * The services place each key on the shard its id hashes to among N: with another N most
 * keys would be looked for on the wrong shard and the data would seem lost. So a data dir
 * keeps the shard count it was first started with.
 */
function checkShards(t: Topology, before: LaidOut | undefined): void {
  if (before === undefined || before.shards === t.shards) return;
  throw new TopologyError(
    `${t.dataDir} holds data laid out for ${before.shards} shard(s) per service, not ${t.shards}: start it with --shards ${before.shards}, or --wipe it`,
  );
}

function writePrivate(file: string, text: string): void {
  // Configs hold the password.
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** Writes everything; returns whether existing Sentinel state was kept. */
export function layOut(t: Topology): { keptSentinelState: boolean } {
  const before = readState(t.dataDir);
  checkShards(t, before);
  for (const dir of [t.dataDir, t.runDir, t.logDir, t.gateway.prefix]) fs.mkdirSync(dir, { recursive: true });
  for (const n of t.redis) {
    fs.mkdirSync(n.dir, { recursive: true });
    writePrivate(n.configFile, redisConfig(t, n));
  }
  const fingerprint = sentinelFingerprint(t);
  const keep = before?.sentinelFingerprint === fingerprint && t.sentinels.every((s) => fs.existsSync(s.configFile));
  for (const s of t.sentinels) {
    fs.mkdirSync(s.dir, { recursive: true });
    if (!keep) writePrivate(s.configFile, sentinelConfig(t, s));
  }
  // `shards` only above 1: a one-shard data dir's state file stays as it always was.
  const state = { sentinelFingerprint: fingerprint, ...(t.shards > 1 ? { shards: t.shards } : {}) };
  fs.writeFileSync(path.join(t.dataDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  fs.writeFileSync(t.gateway.configFile, nginxConfig(t));
  if (t.faultProxy !== undefined) fs.writeFileSync(t.faultProxy.configFile, `${JSON.stringify(faultProxyConfig(t.faultProxy), null, 2)}\n`);
  return { keptSentinelState: keep && t.sentinels.length > 0 };
}
