/**
 * `npm start -- --restore <dir>`: lays a snapshot (take.ts) into a fresh data dir before
 * anything starts, so that the whole HA topology comes up holding it.
 *
 * Every server of a group gets the group's copy as the base of its append-only file (an AOF
 * manifest naming one RDB base): with `appendonly yes`, Redis 7 ignores a bare dump.rdb and
 * would start empty. The replicas then resynchronise from the primary as at any start, and
 * the replica guards rebuild each promotable set (the snapshot holds none: check.ts).
 *
 * Everything is checked before the first file is written: the manifest, every file's size
 * and checksum, the layout and shard count against the topology, and that the data dir holds
 * no data. A corrupt or partial snapshot is refused whole, never half loaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Topology } from '../topology.js';
import { groupsOf, redisGroup } from '../topology.js';
import { SnapshotError } from './errors.js';
import { MANIFEST, SNAPSHOT_FORMAT, sha256, type Manifest } from './take.js';

/** The AOF layout of redis-config.ts: `appenddirname "appendonlydir"`, default `appendfilename`. */
const AOF_DIR = 'appendonlydir';
const AOF_BASE = 'appendonly.aof.1.base.rdb';
const AOF_MANIFEST = 'appendonly.aof.manifest';

/** The manifest of the snapshot in `dir`, of this format and listing files (not yet checked against them). */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST);
  if (!fs.existsSync(file)) throw new SnapshotError(`${dir} holds no ${MANIFEST}: not a snapshot, or one that never completed`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new SnapshotError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (manifest.format !== SNAPSHOT_FORMAT) throw new SnapshotError(`${file}: format ${String(manifest.format)}, this version reads ${SNAPSHOT_FORMAT}`);
  if (!Array.isArray(manifest.files) || manifest.files.length === 0) throw new SnapshotError(`${file} lists no files`);
  return manifest;
}

/** The snapshot in `dir`, every file verified; throws SnapshotError naming the first problem. */
export function readSnapshot(dir: string): { manifest: Manifest; copies: Map<string, Buffer> } {
  const manifest = readManifest(dir);
  const copies = new Map<string, Buffer>();
  for (const f of manifest.files) {
    const p = path.join(dir, path.basename(f.file));
    if (!fs.existsSync(p)) throw new SnapshotError(`${f.file} of group ${f.group} is missing from ${dir}`);
    const data = fs.readFileSync(p);
    if (data.length !== f.bytes || sha256(data) !== f.sha256) throw new SnapshotError(`${f.file} of group ${f.group} is corrupt (size or checksum differs from the manifest)`);
    copies.set(f.group, data);
  }
  return { manifest, copies };
}

/** Writes the snapshot into the topology's (fresh) data dir; throws before writing anything if it does not fit. */
export function layInSnapshot(t: Topology, dir: string): Manifest {
  const { manifest, copies } = readSnapshot(dir);
  if (manifest.shards !== t.shards) throw new SnapshotError(`the snapshot has ${manifest.shards} shard(s) per service: start with --shards ${manifest.shards}`);
  const groups = groupsOf(t);
  const missing = groups.filter((g) => !copies.has(g));
  const extra = [...copies.keys()].filter((g) => !groups.includes(g));
  if (missing.length > 0 || extra.length > 0) throw new SnapshotError(`the snapshot's groups (${[...copies.keys()].join(', ')}) do not match this topology's (${groups.join(', ')})`);
  const holding = t.redis.filter((n) => fs.existsSync(path.join(n.dir, AOF_DIR)) || fs.existsSync(path.join(n.dir, 'dump.rdb')));
  if (holding.length > 0) throw new SnapshotError(`${t.dataDir} already holds data (${holding[0]!.name}): restore into a fresh --data-dir, or add --wipe`);
  for (const group of groups) {
    for (const node of redisGroup(t, group)) {
      const aof = path.join(node.dir, AOF_DIR);
      fs.mkdirSync(aof, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(aof, AOF_BASE), copies.get(group)!, { mode: 0o600 });
      fs.writeFileSync(path.join(aof, AOF_MANIFEST), `file ${AOF_BASE} seq 1 type b\n`, { mode: 0o600 });
    }
  }
  return manifest;
}
