/**
 * The data dir holds the Redis password (secrets.json, every redis.conf and sentinel.conf),
 * the data itself (AOFs) and logs: none of it is for other users of the machine. The dir is
 * made 0700, and the launcher and every child run under umask 077 so that all they create is
 * owner-only, including what our own code never writes: Sentinel's rewrite of its config
 * (Redis creates it 0644 minus the umask), AOF directories and files, nginx's pid file.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PRIVATE_UMASK = 0o077;

/** From now on this process, and every child it spawns, creates owner-only files. */
export function privateUmask(): void {
  process.umask(PRIVATE_UMASK);
}

/**
 * Makes `dir` 0700 (creating it), and takes group and other bits off everything already in
 * it: a data dir from before this rule (or copied in) may hold world-readable secrets.
 * Returns what it could not tighten (another user's files), for a warning.
 */
export function makePrivate(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const failed: string[] = [];
  const tighten = (p: string): void => {
    try {
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) return;
      if ((st.mode & 0o077) !== 0) fs.chmodSync(p, st.mode & 0o7700);
      if (st.isDirectory()) for (const e of fs.readdirSync(p)) tighten(path.join(p, e));
    } catch (err) {
      // Gone meanwhile is fine; anything else is worth a warning.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(p);
    }
  };
  tighten(dir);
  return failed;
}
