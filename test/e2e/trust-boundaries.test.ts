/**
 * The rules of the trust boundaries: internal surfaces bound to loopback only, internal
 * calls need the shared secret, over HTTP and the frame channel alike (refusals logged once,
 * without the secret), databases need
 * a password, hostile requests are refused cheaply with JSON and never reach a 5xx.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import net from 'node:net';
import { request } from 'undici';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { ShopClient } from '@shop/launcher/api.js';
import { FrameClient } from '@shop/common/frames/client.js';
import { InternalCallError } from '@shop/common/internal-client.js';

let cluster: Cluster;
let api: ShopClient;

before(async () => {
  cluster = await startCluster({ layout: 'ha', replicas: 1 });
  api = new ShopClient(cluster.gatewayUrl, 8);
});
after(async () => {
  await api?.close();
  await cluster?.stop();
});

/** Local addresses of listening TCP sockets, from /proc (IPv4 and IPv6), by port. */
function listeningAddresses(port: number): string[] {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== '0A') continue; // LISTEN
      const [addrHex, portHex] = (cols[1] ?? '').split(':');
      if (parseInt(portHex ?? '', 16) === port) found.push(addrHex ?? '');
    }
  }
  return found;
}
const LOOPBACK_V4 = '0100007F';

/** The first reply line of one inline command sent on a fresh connection. */
function rawCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${command}\r\n`));
    socket.setTimeout(2000, () => socket.destroy(new Error('no answer')));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
  });
}

async function internalPost(url: string, secret?: string) {
  const res = await request(`${url}/tx/steps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret === undefined ? {} : { 'x-internal-secret': secret }) },
    body: JSON.stringify({ steps: [] }),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('trust boundaries', () => {
  test('every service port, Redis and Sentinel listens on loopback only', () => {
    const ports = [
      ...Object.values(cluster.services).flatMap((replicas) =>
        replicas.flatMap((r) => [Number(new URL(r.publicUrl).port), Number(new URL(r.internalUrl).port)]),
      ),
      ...Object.values(cluster.redis).flatMap((nodes) => nodes.map((n) => n.port)),
      ...cluster.sentinels.map((s) => s.port),
    ];
    assert.ok(ports.length >= 6 + 9 + 3);
    for (const port of ports) assert.deepEqual(listeningAddresses(port), [LOOPBACK_V4], `port ${port}`);
  });

  test('internal steps without the secret, or with a wrong one, are refused and logged once without the secret', async () => {
    const stock = cluster.services.stock[0]!;
    for (let i = 0; i < 3; i++) {
      const missing = await internalPost(stock.internalUrl);
      assert.equal(missing.status, 401);
      assert.equal(missing.body.code, 'UNAUTHORIZED');
      const wrong = await internalPost(stock.internalUrl, 'x'.repeat(cluster.internalSecret.length));
      assert.equal(wrong.status, 401);
    }
    const right = await internalPost(stock.internalUrl, cluster.internalSecret);
    assert.deepEqual(right, { status: 200, body: { results: [] } });
    // The frame channel on the same port asks the same secret when it opens.
    const frames = (secret: string) => new FrameClient([stock.internalUrl], secret, { path: '/tx/steps' });
    const wrongFrames = frames('x'.repeat(cluster.internalSecret.length));
    await assert.rejects(wrongFrames.call({ steps: [] }), (err: unknown) => err instanceof InternalCallError && err.status === 401);
    const rightFrames = frames(cluster.internalSecret);
    assert.deepEqual(await rightFrames.call({ steps: [] }), { results: [] });
    wrongFrames.close();
    rightFrames.close();

    const log = readFileSync(cluster.topology.services.find((n) => n.name === stock.name)!.logFile, 'utf8');
    assert.equal(log.split('\n').filter((l) => l.includes('internal call refused')).length, 1);
    assert.ok(!log.includes(cluster.internalSecret), 'the secret never appears in the log');
  });

  test('Redis and Sentinel refuse clients without the password', async () => {
    for (const addr of [cluster.redis.order[0]!, cluster.sentinels[0]!]) {
      assert.match(await rawCommand(addr.port, 'PING'), /^-NOAUTH/, `port ${addr.port}`);
    }
  });

  test('hostile requests get a JSON 4xx and never a 5xx', async () => {
    const attempts = [
      ['GET', `/stock/find/${'a'.repeat(5000)}`],
      ['GET', `/stock/find/${'a'.repeat(65)}`],
      ['GET', '/stock/find/..%2F..%2Fetc'],
      ['GET', '/stock/find/item:1'],
      ['POST', '/orders/checkout/%00'],
      ['POST', '/orders/addItem/x/y/1%0A2'],
      ['GET', '/payment/find_user/*'],
    ] as const;
    for (const [method, path] of attempts) {
      const a = await api.call(method, path);
      assert.ok(a.status >= 400 && a.status < 500, `${method} ${path.slice(0, 40)} answered ${a.status}`);
      assert.match(a.contentType, /^application\/json/, `${path.slice(0, 40)}`);
    }
    const huge = await api.call('GET', '/stock/find/x', { 'x-filler': 'y'.repeat(20_000) });
    assert.ok(huge.status >= 400 && huge.status < 500, `a 20 kB header answered ${huge.status}`);
  });
});
