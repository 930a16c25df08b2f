/**
 * Remembers the children's pids in the run dir, so that a launcher taking over after one
 * that was killed outright (SIGKILL, OOM) can end the servers it left running on our ports
 * and data files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { signalGroup } from './child.js';
import { sleep } from '@shop/common/probes.js';

interface Entry {
  pid: number;
  /**
   * Start time from /proc/<pid>/stat: tells our process from an unrelated one that reused
   * the pid (cmdline would not do: Redis and nginx rewrite their process titles).
   */
  startTime: string;
}

/** How long a new launcher waits for what it killed to be gone. */
const REAP_WAIT_MS = 30_000;

/**
 * The process groups that still have a running process. Read from /proc rather than with
 * signal 0, which also counts zombies: an orphan's zombie stays until its new parent reaps
 * it, and it holds no socket.
 */
function livingGroups(): Set<number> {
  const groups = new Set<number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the parenthesised name: state, ppid, pgrp.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') groups.add(Number(pgrp));
    } catch {
      // gone meanwhile
    }
  }
  return groups;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; starttime is field 22 overall.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export class PidRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly file: string;

  constructor(runDir: string) {
    this.file = path.join(runDir, 'children.json');
  }

  record(name: string, pid: number): void {
    this.entries.set(name, { pid, startTime: startTimeOf(pid) ?? '' });
    this.flush();
  }

  clear(): void {
    this.entries.clear();
    fs.rmSync(this.file, { force: true });
  }

  private flush(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file, `${JSON.stringify(Object.fromEntries(this.entries), null, 2)}\n`);
  }

  /** Kills what a previous launcher left behind and waits until it is gone; returns the names it killed. */
  async reapLeftovers(): Promise<string[]> {
    let old: Record<string, Entry>;
    try {
      old = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, Entry>;
    } catch {
      return [];
    }
    const killed: string[] = [];
    const pids: number[] = [];
    for (const [name, e] of Object.entries(old)) {
      const now = startTimeOf(e.pid);
      if (now !== undefined && e.startTime !== '' && now === e.startTime) {
        signalGroup(e.pid, 'SIGKILL');
        killed.push(`${name} (pid ${e.pid})`);
        pids.push(e.pid);
      }
    }
    fs.rmSync(this.file, { force: true });
    // Their listening sockets close only when every process of each group is gone: nginx's
    // workers and a Redis fork outlive their leader for a moment, and a busy server with
    // thousands of connections and much memory takes a while to exit on a loaded machine.
    const deadline = Date.now() + REAP_WAIT_MS;
    for (;;) {
      const living = livingGroups();
      if (!pids.some((pid) => living.has(pid)) || Date.now() >= deadline) break;
      await sleep(50);
    }
    return killed;
  }
}
