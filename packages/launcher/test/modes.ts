/** File modes and process umasks, for the tests of private.ts. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

/** Every file and directory under `dir` (itself included) whose mode lets others in. */
export function openToOthers(dir: string): string[] {
  const out: string[] = [];
  const visit = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) out.push(`${path.relative(dir, p) || '.'} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  visit(dir);
  return out;
}

/** The umask a running process has, from /proc. */
export function umaskOf(pid: number): number {
  const m = /^Umask:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m !== null, `no Umask line for ${pid}`);
  return parseInt(m[1]!, 8);
}
