/**
 * The operator console: a read-only HTTP server on a loopback port of its own (never behind
 * the public gateway) serving one page, the sampled state (`/api/state`) and the transaction
 * inspector (`/api/order/<id>`, `/api/tx/<id>`, `/api/unfinished`).
 *
 *   const c = await startConsole({ topology, processes: () => supervisor.processes, port: 8001 });
 *   ... c.url ...
 *   await c.stop();
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseId } from '@shop/common/validate.js';
import { repoRoot } from '../entry.js';
import type { ManagedProcess } from '../supervisor.js';
import type { Topology } from '../topology.js';
import { Inspector } from './inspector.js';
import { Sampler } from './sampler.js';

export const DEFAULT_CONSOLE_PORT = 8001;
export const CONSOLE_HOST = '127.0.0.1';

export interface ConsoleOptions {
  topology: Topology;
  processes: () => ManagedProcess[];
  /** 0: any free port. */
  port: number;
  intervalMs?: number;
}

export interface ConsoleHandle {
  url: string;
  port: number;
  sampler: Sampler;
  stop(): Promise<void>;
}

/** The page's files, and Chart.js from node_modules (no CDN: the console works offline). */
function staticFiles(): Map<string, { file: string; type: string }> {
  const dir = path.join(repoRoot(), 'packages', 'launcher', 'console');
  const chart = path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  return new Map([
    ['/', { file: path.join(dir, 'index.html'), type: 'text/html; charset=utf-8' }],
    ['/console.js', { file: path.join(dir, 'console.js'), type: 'text/javascript; charset=utf-8' }],
    ['/console.css', { file: path.join(dir, 'console.css'), type: 'text/css; charset=utf-8' }],
    ['/vendor/chart.umd.min.js', { file: chart, type: 'text/javascript; charset=utf-8' }],
  ]);
}

export async function startConsole(o: ConsoleOptions): Promise<ConsoleHandle> {
  const sampler = new Sampler({ topology: o.topology, processes: o.processes, ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}) });
  const inspector = new Inspector((group) => sampler.primaryClient(group), o.topology.shards);
  const files = staticFiles();
  let port = o.port;

  const send = (res: http.ServerResponse, status: number, body: unknown, type = 'application/json') => {
    const text = type === 'application/json' ? JSON.stringify(body) : String(body);
    res.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Everything the page loads comes from here: no script or frame from elsewhere.
      'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    });
    res.end(text);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // A page on another site must not read the console through a name resolving to
    // 127.0.0.1 (DNS rebinding): only our own loopback names are served.
    const host = req.headers.host ?? '';
    if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(host)) return send(res, 403, { error: 'console: unexpected Host header' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'the console is read-only' });
    const url = new URL(req.url ?? '/', `http://${host}`);
    const file = files.get(url.pathname);
    if (file !== undefined) return send(res, 200, await fs.promises.readFile(file.file, 'utf8'), file.type);
    if (url.pathname === '/api/state') return send(res, 200, sampler.state());
    if (url.pathname === '/api/unfinished') return send(res, 200, await inspector.unfinished());
    const m = /^\/api\/(order|tx)\/([^/]+)$/.exec(url.pathname);
    if (m !== null) {
      let id: string;
      try {
        id = parseId(m[2]);
      } catch {
        return send(res, 400, { error: 'not a valid id' });
      }
      return send(res, 200, m[1] === 'order' ? await inspector.order(id) : await inspector.transaction(id));
    }
    return send(res, 404, { error: 'no such page' });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 503, { error: `could not read: ${(err as Error).message}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, CONSOLE_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  sampler.start();
  return {
    url: `http://${CONSOLE_HOST}:${port}`,
    port,
    sampler,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sampler.stop();
    },
  };
}
