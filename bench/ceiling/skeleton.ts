/**
 * Starts and stops the ceiling skeleton's Node processes on a cluster started without
 * services (`startCluster({ services: false })`): each listens on the port of the first
 * replica of the service it stands in for, the one the gateway and the services' internal
 * client send everything to (the others are standbys), so the gateway's generated config
 * reaches them unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Cluster, ServiceName } from '@shop/launcher/cluster.js';
import { FROM_SOURCE } from '@shop/launcher/topology.js';
import { httpStatus, waitFor } from '@shop/common/probes.js';

export interface SkeletonProcess {
  name: string;
  /** The service it stands in for. */
  service: ServiceName;
  pid: number | undefined;
}

export interface Skeleton {
  processes: SkeletonProcess[];
  stop(): Promise<void>;
}

export interface SkeletonOptions {
  /** Replicas each write waits for; default every replica of the group (2 in HA). */
  acks?: number;
  /** WAIT's timeout in ms; default 1,000. */
  waitMs?: number;
}

/** Beside this module: .ts when run from source (tsx), .js when built. */
function roleEntry(role: 'coordinator' | 'participant'): { file: string; flags: readonly string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  return { file: path.join(path.dirname(here), `${role}${ext}`), flags: ext === '.ts' ? FROM_SOURCE : [] };
}

function stopChild(c: ChildProcess, graceMs = 5000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => c.kill('SIGKILL'), graceMs);
    c.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

export async function startSkeleton(cluster: Cluster, opts: SkeletonOptions = {}): Promise<Skeleton> {
  const first = (s: ServiceName) => {
    const r = cluster.topology.services.find((x) => x.service === s && x.index === 0);
    if (r === undefined) throw new Error(`the topology has no ${s} replica`);
    return r;
  };
  const logDir = path.join(cluster.dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const children: { name: string; service: ServiceName; child: ChildProcess; readyUrl: string }[] = [];
  const launch = async (name: string, service: ServiceName, role: 'coordinator' | 'participant', port: number, extra: Record<string, string>): Promise<void> => {
    const primary = await cluster.currentPrimary(service);
    const replicas = cluster.redis[service].length - 1;
    const { file, flags } = roleEntry(role);
    const log = fs.openSync(path.join(logDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [...flags, file], {
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        CEILING_PORT: String(port),
        CEILING_REDIS_HOST: primary.host,
        CEILING_REDIS_PORT: String(primary.port),
        CEILING_PASSWORD: cluster.password,
        CEILING_ACKS: String(opts.acks ?? replicas),
        CEILING_WAIT_MS: String(opts.waitMs ?? 1000),
        ...extra,
      },
    });
    fs.closeSync(log);
    children.push({ name, service, child, readyUrl: `http://127.0.0.1:${port}/ready` });
  };
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c.child)));
  };
  try {
    const stock = first('stock');
    const payment = first('payment');
    await launch('ceiling-stock', 'stock', 'participant', stock.internalPort, { CEILING_ROLE: 'stock' });
    await launch('ceiling-payment', 'payment', 'participant', payment.internalPort, { CEILING_ROLE: 'payment' });
    await launch('ceiling-order', 'order', 'coordinator', first('order').publicPort, {
      CEILING_STOCK_URL: stock.internalUrl,
      CEILING_PAYMENT_URL: payment.internalUrl,
    });
    await waitFor(
      'the ceiling skeleton to be ready',
      async () => {
        const dead = children.find((c) => c.child.exitCode !== null);
        if (dead !== undefined) throw new Error(`${dead.name} exited with ${dead.child.exitCode}; see ${logDir}/${dead.name}.log`);
        return (await Promise.all(children.map((c) => httpStatus(c.readyUrl)))).every((s) => s === 200);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    processes: children.map((c) => ({ name: c.name, service: c.service, get pid() { return c.child.exitCode === null ? c.child.pid : undefined; } })),
    stop,
  };
}

/** Records the skeleton left in its Redis groups: begin and decision per checkout, a marker per participant step. */
export interface SkeletonRecords {
  begins: number;
  commits: number;
  aborts: number;
  stockTakes: number;
  paymentTakes: number;
}

async function scan(cluster: Cluster, group: ServiceName, match: string, value?: (v: string | null) => boolean): Promise<number> {
  const primary = await cluster.currentPrimary(group);
  const redis = new Redis({ host: primary.host, port: primary.port, password: cluster.password });
  try {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      if (value === undefined) n += keys.length;
      else if (keys.length > 0) n += (await redis.mget(...keys)).filter(value).length;
    } while (cursor !== '0');
    return n;
  } finally {
    redis.disconnect();
  }
}

export async function readRecords(cluster: Cluster): Promise<SkeletonRecords> {
  const [begins, commits, aborts, stockTakes, paymentTakes] = await Promise.all([
    scan(cluster, 'order', 'ceiling:*:begin'),
    scan(cluster, 'order', 'ceiling:*:decision', (v) => v === 'commit'),
    scan(cluster, 'order', 'ceiling:*:decision', (v) => v === 'abort'),
    scan(cluster, 'stock', 'ceiling:stock:tx:*', (v) => v === '1'),
    scan(cluster, 'payment', 'ceiling:payment:tx:*', (v) => v === '1'),
  ]);
  return { begins, commits, aborts, stockTakes, paymentTakes };
}
