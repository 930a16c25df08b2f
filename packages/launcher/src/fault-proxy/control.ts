/**
 * The fault proxy's control API, on loopback HTTP beside the links it controls:
 *
 *   GET  /links                                   every link with its mode and open connections
 *   POST /links/<name>?mode=cut|blackhole|pass|delay[&ms=N]
 *   POST /links?names=<a>,<b>,...&mode=...         several links in one call (one partition)
 *
 * A POST answers once the mode is in effect (listeners closed or bound, open connections reset
 * or held), so a test that applies a partition and then acts knows the partition is there.
 */
import http from 'node:http';
import { FaultProxy, parseMode, type Endpoint, type LinkMode, type LinkState } from './proxy.js';

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function serveControl(proxy: FaultProxy, at: Endpoint): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const route = url.pathname.split('/').filter((p) => p.length > 0);
    if (route[0] !== 'links' || route.length > 2) return answer(res, 404, { error: 'no such route' });
    if (req.method === 'GET' && route.length === 1) return answer(res, 200, proxy.list());
    if (req.method !== 'POST') return answer(res, 405, { error: 'use GET /links or POST' });
    let mode: LinkMode;
    try {
      mode = parseMode(url.searchParams.get('mode'), url.searchParams.get('ms'));
    } catch (err) {
      return answer(res, 400, { error: (err as Error).message });
    }
    const names = route.length === 2 ? [decodeURIComponent(route[1] ?? '')] : (url.searchParams.get('names') ?? '').split(',').filter((n) => n !== '');
    proxy.set(names, mode).then(
      () => answer(res, 200, { set: names, mode }),
      (err: unknown) => answer(res, 400, { error: (err as Error).message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => resolve());
  });
  return server;
}

/** A typed client of the control API. */
export class FaultProxyClient {
  constructor(readonly baseUrl: string) {}

  private async call<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    const res = await fetch(this.baseUrl + path, { method });
    const body = (await res.json()) as T | { error: string };
    if (res.status !== 200) throw new Error(`fault proxy ${method} ${path}: ${res.status} ${(body as { error: string }).error}`);
    return body as T;
  }

  links(): Promise<LinkState[]> {
    return this.call('GET', '/links');
  }

  /** Sets every named link to `mode` in one call; resolves once it is in effect. */
  async set(names: readonly string[], mode: LinkMode): Promise<void> {
    if (names.length === 0) return;
    const ms = mode.kind === 'delay' ? `&ms=${mode.ms}` : '';
    await this.call('POST', `/links?names=${names.map(encodeURIComponent).join(',')}&mode=${mode.kind}${ms}`);
  }
}
