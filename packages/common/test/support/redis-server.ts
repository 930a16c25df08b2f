/** Throwaway redis-servers on free loopback ports, for tests of scripts and of replication. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { portFree, waitFor } from '../../src/probes.js';
import { ping } from '../../src/replication/one-shot.js';

export interface TestRedis {
  port: number;
  password: string;
  /** A new client; closed by `stop`. */
  client(): Redis;
  /** Sends a signal to the server process (SIGSTOP, SIGCONT, SIGKILL). */
  signal(sig: NodeJS.Signals): void;
  /** Kills the server (SIGKILL) and starts it again on the same port and data directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** Replicate this server (same password). */
  replicaOf?: TestRedis;
  /** Keep an AOF, so a restart reloads the data (default: no persistence). */
  aof?: boolean;
  /** Start with replica-priority 0, as the launcher starts every server. */
  unpromotable?: boolean;
}

const PASSWORD = 'test-password';

async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const candidate = randomInt(33_000, 60_000);
    if (await portFree(candidate)) return candidate;
  }
  throw new Error('no free port found for a test redis');
}

export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'shop-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--masterauth', PASSWORD];
  args.push('--save', '', '--dir', dir, '--appendonly', options.aof === true ? 'yes' : 'no');
  args.push('--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0');
  if (options.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOf.port));
  if (options.unpromotable === true) args.push('--replica-priority', '0');
  return launchServer(port, dir, args);
}

/** A Sentinel watching `primary` as master group `group`, with the test password on both sides. */
export async function startTestSentinel(primary: TestRedis, group: string): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'shop-sentinel-'));
  const conf = path.join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `requirepass ${PASSWORD}`,
      `sentinel monitor ${group} 127.0.0.1 ${primary.port} 1`,
      `sentinel auth-pass ${group} ${PASSWORD}`,
      `sentinel down-after-milliseconds ${group} 1000`,
      '',
    ].join('\n'),
  );
  return launchServer(port, dir, [conf, '--sentinel']);
}

async function launchServer(port: number, dir: string, args: string[]): Promise<TestRedis> {
  let proc: ChildProcess;
  const launch = async (): Promise<void> => {
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    await waitFor('test redis', () => ping({ host: '127.0.0.1', port }, PASSWORD), { timeoutMs: 10_000, intervalMs: 50 });
  };
  const kill = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  };
  await launch();
  const clients: Redis[] = [];
  return {
    port,
    password: PASSWORD,
    client() {
      const c = new Redis({ host: '127.0.0.1', port, password: PASSWORD, maxRetriesPerRequest: 1 });
      // A test that restarts or kills the server sees connection errors on purpose.
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    signal(sig) {
      proc.kill(sig);
    },
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A client with the settings of the services' that matter when the server goes away: no
 * command rides through a reconnect, and reconnects come every `retryMs`. Closed by the caller.
 */
export function serviceLikeClient(server: TestRedis, retryMs = 100): Redis {
  const c = new Redis({ port: server.port, password: server.password, maxRetriesPerRequest: 0, retryStrategy: () => retryMs });
  c.on('error', () => undefined);
  return c;
}
