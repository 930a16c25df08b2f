/**
 * One launcher per data dir: two would run two sets of Redis servers on the same files.
 * The lock file holds the owner's pid; a lock whose pid is gone is stale and taken over.
 */
import fs from 'node:fs';
import path from 'node:path';

export class LockedError extends Error {
  override name = 'LockedError';
}

export interface Lock {
  file: string;
  /** True when a dead launcher's lock was taken over (its children may still run). */
  tookOver: boolean;
  release(): void;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else, which still means "alive".
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process stays a zombie until its parent reaps it; it holds no lock.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return true;
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function acquireLock(dataDir: string): Lock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'launcher.lock');
  let tookOver = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return {
        file,
        tookOver,
        release: () => {
          if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readPid(file);
    if (owner !== undefined && owner !== process.pid && pidAlive(owner)) {
      throw new LockedError(
        `another launcher (pid ${owner}) is already running on ${dataDir}; stop it first (kill ${owner}) or use another --data-dir`,
      );
    }
    // Stale (owner dead or file unreadable): remove and race for it again with 'wx'.
    fs.rmSync(file, { force: true });
    tookOver = true;
  }
  throw new LockedError(`could not take the lock ${file}`);
}
