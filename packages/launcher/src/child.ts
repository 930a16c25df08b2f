/**
 * One supervised child process: spawned in its own process group with its output appended
 * to a log file, restarted with a short backoff when it dies (unless we are stopping it).
 *
 * Own process group: a Ctrl-C in the terminal reaches only the launcher, which then stops
 * the children in order; and signalling the group also reaches nginx's worker processes,
 * which would otherwise outlive a killed master and keep the gateway port bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { rotateIfLarge, tail } from './logs.js';
import type { Spawn } from './topology.js';

export interface ChildOptions {
  name: string;
  spawn: Spawn;
  logFile: string;
  /** Restart when it dies on its own. */
  supervise: boolean;
  /** At each (re)start, rotate the log first when it is larger than this (see logs.ts). */
  logMaxBytes?: number;
  /**
   * Extra arguments for each start; may wait (e.g. for a failover) before answering, and
   * should give up early once `cancelled()` is true.
   */
  prepare?: (ctx: { restart: boolean; cancelled: () => boolean }) => Promise<string[]>;
  log: (line: string) => void;
  /** Called after every spawn, with the new pid. */
  onSpawn?: (pid: number) => void;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 5000];
/** A run this long counts as healthy: the next crash restarts fast again. */
const STABLE_MS = 10_000;
/** Base environment: enough to run, not the launcher's whole shell (a stray REDIS_HOST there must not leak in). */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER'];

export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

export class Child {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  /** Number of times it was started, for tests that wait for a restart. */
  starts = 0;
  /** When the current run was spawned (ms since the epoch): the console's uptime. */
  startedAt: number | undefined;

  constructor(private readonly o: ChildOptions) {}

  get name(): string {
    return this.o.name;
  }

  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  get alive(): boolean {
    return this.pid !== undefined;
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid !== undefined) signalGroup(pid, sig);
  }

  /** Starts the process; resolves once it is spawned (not once it is ready). */
  async start(): Promise<void> {
    this.stopping = false;
    await this.launch(false);
  }

  private async launch(restart: boolean): Promise<void> {
    const extra = (await this.o.prepare?.({ restart, cancelled: () => this.stopping })) ?? [];
    if (this.stopping) return;
    const env: Record<string, string> = {};
    for (const k of INHERITED_ENV) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    Object.assign(env, this.o.spawn.env ?? {});
    const args = [...this.o.spawn.args, ...extra];
    if (this.o.logMaxBytes !== undefined) {
      await rotateIfLarge(this.o.logFile, this.o.logMaxBytes).catch((err: unknown) => {
        this.o.log(`${this.o.name}: could not rotate ${this.o.logFile}: ${(err as Error).message}`);
      });
    }
    // 'a' is O_APPEND: the child's writes always land at the end, which makes rotating the
    // log by truncation safe (logs.ts).
    const fd = fs.openSync(this.o.logFile, 'a');
    try {
      fs.writeSync(fd, `\n=== ${new Date().toISOString()} start: ${this.o.spawn.command} ${args.join(' ')}\n`);
      const proc = spawn(this.o.spawn.command, args, {
        cwd: this.o.spawn.cwd,
        env,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
      this.proc = proc;
      this.starts++;
      const startedAt = Date.now();
      this.startedAt = startedAt;
      this.exited = new Promise<void>((resolve) => {
        proc.once('error', (err) => {
          this.o.log(`${this.o.name}: cannot start ${this.o.spawn.command}: ${err.message}`);
          resolve();
        });
        proc.once('exit', (code, sig) => {
          resolve();
          this.onExit(code, sig, Date.now() - startedAt);
        });
      });
      if (proc.pid !== undefined) this.o.onSpawn?.(proc.pid);
    } finally {
      fs.closeSync(fd);
    }
  }

  private onExit(code: number | null, sig: NodeJS.Signals | null, ranMs: number): void {
    const pid = this.proc?.pid;
    // Stragglers of its group (nginx workers) would hold its port against the restart.
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    if (this.stopping || !this.o.supervise) return;
    if (ranMs >= STABLE_MS) this.failures = 0;
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] ?? 5000;
    this.failures++;
    const how = sig !== null ? `signal ${sig}` : `code ${code ?? '?'}`;
    this.o.log(`${this.o.name} exited (${how}); restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.starting = this.launch(true).catch((err: unknown) => {
        this.o.log(`${this.o.name}: restart failed: ${(err as Error).message}`);
      });
    }, delay);
  }

  /** Stops it for good: SIGTERM to its group, SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.starting;
    const pid = this.pid;
    if (pid === undefined) return;
    signalGroup(pid, 'SIGTERM');
    // A SIGSTOPped process cannot act on SIGTERM until continued.
    signalGroup(pid, 'SIGCONT');
    // The grace timer is cleared as soon as the child is gone: a pending timer would keep the
    // launcher's event loop, and so the shell prompt, waiting for the full grace period.
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const done = await Promise.race([this.exited.then(() => true), graceOver]);
    clearTimeout(timer);
    if (!done) {
      this.o.log(`${this.o.name} did not stop in ${graceMs} ms; killing it. Last lines of ${this.o.logFile}:\n${tail(this.o.logFile, 5)}`);
      signalGroup(pid, 'SIGKILL');
      await this.exited;
    }
  }
}
