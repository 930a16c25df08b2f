/**
 * Log rotation (logs.ts): a log over its bound is copied to <log>.1 and emptied in place,
 * which is safe only because every writer appends: checked with a real child writing all
 * the while, and at a child's (re)start.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Child } from '../src/child.js';
import { LogRotator, rotateIfLarge, tail } from '../src/logs.js';
import { sleep, waitFor } from '@shop/common/probes.js';

/** A child that writes a 1 KiB line every 2 ms to its stdout, i.e. to its log. */
const CHATTY = ['-e', "const line = 'x'.repeat(1023) + '\\n'; setInterval(() => process.stdout.write(line), 2);"];

describe('log rotation', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-logs-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const child = (name: string, logMaxBytes: number): Child =>
    new Child({ name, spawn: { command: process.execPath, args: CHATTY }, logFile: path.join(dir, `${name}.log`), supervise: false, logMaxBytes, log: () => undefined });

  it('copies a log over the bound to .1 and empties it; an appending writer goes on at its new end', async () => {
    const file = path.join(dir, 'plain.log');
    const fd = fs.openSync(file, 'a');
    try {
      fs.writeSync(fd, 'a'.repeat(2000));
      assert.equal(await rotateIfLarge(file, 4000), false, 'under the bound: left alone');
      fs.writeSync(fd, 'b'.repeat(3000));
      assert.equal(await rotateIfLarge(file, 4000), true);
      assert.equal(fs.statSync(`${file}.1`).size, 5000);
      assert.equal(fs.statSync(file).size, 0);
      fs.writeSync(fd, 'after\n');
      // No hole of 5000 NUL bytes before it: the write went to offset 0.
      assert.equal(fs.readFileSync(file, 'utf8'), 'after\n');
    } finally {
      fs.closeSync(fd);
    }
  });

  it("keeps a running child's log bounded, with no hole, while it writes", async () => {
    const c = child('chatty', 64 * 1024);
    const rotator = new LogRotator(dir, 64 * 1024, 50, () => undefined);
    await c.start();
    rotator.start();
    try {
      const log = path.join(dir, 'chatty.log');
      await waitFor('a rotation', () => Promise.resolve(fs.existsSync(`${log}.1`)), { timeoutMs: 10_000 });
      await sleep(500);
      // Bound + what one check interval adds (~25 KiB at this rate), with room for a slow machine.
      assert.ok(fs.statSync(log).size < 64 * 1024 + 512 * 1024, `log is ${fs.statSync(log).size} bytes`);
      assert.ok(!fs.readFileSync(log).includes(0), 'no NUL bytes: the child appended at the new end');
      assert.ok(fs.statSync(`${log}.1`).size > 64 * 1024);
    } finally {
      await rotator.stop();
      await c.stop(2000);
    }
  });

  it("rotates a child's oversized log before (re)starting it", async () => {
    const log = path.join(dir, 'restarted.log');
    fs.writeFileSync(log, `old run\n${'y'.repeat(20_000)}\n`);
    const c = child('restarted', 10_000);
    await c.start();
    await c.stop(2000);
    assert.match(fs.readFileSync(`${log}.1`, 'utf8'), /^old run\n/);
    assert.match(fs.readFileSync(log, 'utf8'), /^\n=== .* start: /);
  });
});

describe('tail of a log', () => {
  it('gives the last lines of a large log, reading only its end, and says so when there is no log', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-tail-'));
    try {
      const file = path.join(dir, 'big.log');
      fs.writeFileSync(file, Array.from({ length: 50_000 }, (_, i) => `line ${i}`).join('\n') + '\n');
      assert.equal(tail(file, 3), 'line 49997\nline 49998\nline 49999');
      assert.equal(tail(path.join(dir, 'missing.log')), '(no log)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
