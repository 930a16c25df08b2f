/** A throwaway redis-server on a free loopback port, for tests of the Lua scripts. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { portFree, waitFor } from '../../launcher/probes.js';
import { ping } from '../../launcher/redis-client.js';

export interface TestRedis {
  port: number;
  password: string;
  /** A new client; closed by `stop`. */
  client(): Redis;
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const password = 'test-password';
  let port = 0;
  for (let i = 0; i < 50 && port === 0; i++) {
    const candidate = randomInt(33_000, 60_000);
    if (await portFree(candidate)) port = candidate;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'shop-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  await waitFor('test redis', () => ping({ host: '127.0.0.1', port }, password), { timeoutMs: 10_000, intervalMs: 50 });
  const clients: Redis[] = [];
  return {
    port,
    password,
    client() {
      const c = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
