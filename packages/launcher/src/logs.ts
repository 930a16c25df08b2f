/**
 * Size-bounded logs. Every child appends its output to data/logs/<name>.log, which would grow
 * forever; a log over the bound is copied to <name>.log.1 (replacing the previous copy) and
 * truncated in place, at each (re)start of its child and on a periodic check.
 *
 * Copy-then-truncate, not rename: the children hold their log open and cannot be told to
 * reopen it. That is safe because every writer appends (the launcher opens the children's
 * logs with O_APPEND, nginx opens its error log so too): after the truncation their next
 * write lands at the new end, offset 0, not at their old offset behind a hole. Lines written
 * between the copy and the truncation are lost; at one check a minute that is rare and small.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Default bound per log: a log and its one old copy take at most twice this. */
export const DEFAULT_LOG_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_LOG_CHECK_MS = 60_000;

/** Rotates `file` when it is larger than `maxBytes`; resolves whether it did. */
export async function rotateIfLarge(file: string, maxBytes: number): Promise<boolean> {
  let size: number;
  try {
    size = (await fs.promises.stat(file)).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  await fs.promises.copyFile(file, `${file}.1`);
  await fs.promises.truncate(file, 0);
  return true;
}

/** Checks every `*.log` of a directory periodically. */
export class LogRotator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly intervalMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.checkNow().then(
        (rotated) => {
          this.running = undefined;
          if (rotated.length > 0) this.log(`rotated ${rotated.join(', ')} (over ${this.maxBytes} bytes; previous part in <log>.1)`);
        },
        () => {
          this.running = undefined;
        },
      );
    }, this.intervalMs);
    // The children keep the launcher alive, never this timer.
    this.timer.unref();
  }

  /** Rotates every log over the bound; resolves the names it rotated. */
  async checkNow(): Promise<string[]> {
    let names: string[];
    try {
      names = (await fs.promises.readdir(this.dir)).filter((n) => n.endsWith('.log'));
    } catch {
      return [];
    }
    const rotated: string[] = [];
    for (const name of names) {
      try {
        if (await rotateIfLarge(path.join(this.dir, name), this.maxBytes)) rotated.push(name);
      } catch (err) {
        this.log(`could not rotate ${name}: ${(err as Error).message}`);
      }
    }
    return rotated;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** Only the end of the file is read: a log grows up to its rotation size. */
const TAIL_BYTES = 16 * 1024;

/** The last lines of a child's log, for the messages that report its failures. */
export function tail(file: string, lines = 15): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    fs.readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
