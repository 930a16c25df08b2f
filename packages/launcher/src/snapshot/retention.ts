/**
 * Retention of scheduled snapshots (`--keep N`): in a root of `<UTC stamp>/` directories,
 * keeps the newest N complete snapshots and removes the older complete ones.
 *
 * It removes only what is plainly ours and whole: a directory named by a stamp
 * (schedule.ts) holding a manifest.json of this format whose every file is there at its
 * size. Anything else stays, whatever its name: an incomplete or foreign directory, the
 * operator's own files, and a snapshot being written (take.ts writes `<stamp>.partial-<pid>`
 * and renames it only once complete). An incomplete one never counts towards the N kept, so
 * failed attempts cannot push the last good snapshots out. Checksums are not read here
 * (every snapshot read each period): restore reads them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from './restore.js';
import { isStamp } from './schedule.js';

/** Names of the complete snapshots in `root`, oldest first. */
export function completeSnapshots(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isStamp(e.name) && isComplete(path.join(root, e.name)))
    .map((e) => e.name)
    .sort();
}

/** Keeps the newest `keep` complete snapshots of `root` and removes the older complete ones. */
export function prune(root: string, keep: number): { kept: string[]; removed: string[] } {
  const complete = completeSnapshots(root);
  const removed = complete.slice(0, Math.max(0, complete.length - keep));
  for (const name of removed) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  return { kept: complete.slice(removed.length), removed };
}

function isComplete(dir: string): boolean {
  try {
    return readManifest(dir).files.every((f) => {
      const file = path.join(dir, path.basename(f.file));
      return fs.existsSync(file) && fs.statSync(file).size === f.bytes;
    });
  } catch {
    // No manifest, not JSON, another format: not a snapshot this version may remove.
    return false;
  }
}
