import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { portFree } from '@shop/common/probes.js';
import { FaultProxyClient, serveControl } from '../src/fault-proxy/control.js';
import { FaultProxy } from '../src/fault-proxy/proxy.js';

/** An echo server that counts its open connections: the proxy must not leave any behind. */
async function echoServer(): Promise<{ port: number; open: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => sockets.size,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A client connection that collects what it receives. */
class Peer {
  received = '';
  error: string | undefined;
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => (this.received += d.toString()));
    socket.on('error', (e: NodeJS.ErrnoException) => (this.error = e.code ?? e.message));
    socket.on('close', () => (this.closed = true));
  }
  static connect(port: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => resolve(new Peer(s)));
      s.once('error', reject);
    });
  }
  /** Sends `text` and waits up to `ms` for it to come back; whether it did. */
  async roundTrip(text: string, ms = 1000): Promise<boolean> {
    const want = this.received + text;
    this.socket.write(text);
    return until(() => this.received === want, ms);
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}

describe('fault proxy', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: FaultProxy;
  let port: number;
  let client: FaultProxyClient;
  let control: Awaited<ReturnType<typeof serveControl>>;
  const link = 'echo';

  before(async () => {
    echo = await echoServer();
    port = await freePort();
    const target = { host: '127.0.0.1', port: echo.port };
    proxy = new FaultProxy([
      { name: link, listen: { host: '127.0.0.1', port }, target },
      { name: 'other', listen: { host: '127.0.0.1', port: await freePort() }, target },
    ]);
    await proxy.start();
    const controlPort = await freePort();
    control = await serveControl(proxy, { host: '127.0.0.1', port: controlPort });
    client = new FaultProxyClient(`http://127.0.0.1:${controlPort}`);
  });

  after(async () => {
    control.closeAllConnections();
    await new Promise((r) => control.close(r));
    await proxy.stop();
    assert.ok(await portFree(port), 'the link port is released at stop');
    await echo.close();
  });

  it('pass forwards both ways', async () => {
    const p = await Peer.connect(port);
    assert.ok(await p.roundTrip('hello'));
    p.socket.destroy();
  });

  it('cut refuses new connections and resets open ones; pass brings it back', async () => {
    const p = await Peer.connect(port);
    assert.ok(await p.roundTrip('before'));
    await client.set([link], { kind: 'cut' });
    assert.ok(await until(() => p.closed, 1000), 'the open connection is closed');
    assert.equal(p.error, 'ECONNRESET');
    await assert.rejects(Peer.connect(port), { code: 'ECONNREFUSED' });
    await client.set([link], { kind: 'pass' });
    const q = await Peer.connect(port);
    assert.ok(await q.roundTrip('after'));
    q.socket.destroy();
  });

  it('blackhole accepts and never answers, holds open connections, and delivers what it held once healed', async () => {
    const open = await Peer.connect(port);
    assert.ok(await open.roundTrip('a'));
    await client.set([link], { kind: 'blackhole' });
    const fresh = await Peer.connect(port); // accepted: the caller cannot tell it is cut off
    assert.equal(await fresh.roundTrip('x', 300), false, 'a new connection gets no answer');
    assert.equal(await open.roundTrip('b', 300), false, 'an open connection gets no answer');
    assert.ok(!open.closed && !fresh.closed, 'nothing is closed: only a timeout tells');
    await client.set([link], { kind: 'pass' });
    assert.ok(await until(() => open.received === 'ab' && fresh.received === 'x', 1000), `held bytes delivered: ${open.received} ${fresh.received}`);
    assert.ok(await open.roundTrip('c'));
    open.socket.destroy();
    fresh.socket.destroy();
  });

  it('delay adds latency each way, keeps the byte order, and undoing it restores speed', async () => {
    const p = await Peer.connect(port);
    await client.set([link], { kind: 'delay', ms: 150 });
    const t0 = Date.now();
    p.socket.write('1');
    p.socket.write('2');
    p.socket.write('3');
    assert.ok(await until(() => p.received === '123', 2000), `got ${p.received}`);
    const took = Date.now() - t0;
    assert.ok(took >= 290, `round trip took ${took} ms, expected two delays of 150`);
    await client.set([link], { kind: 'pass' });
    const t1 = Date.now();
    assert.ok(await p.roundTrip('4'));
    assert.ok(Date.now() - t1 < 100);
    p.socket.destroy();
  });

  it('sets several links in one call, and lists them with their modes', async () => {
    await client.set([link, 'other'], { kind: 'blackhole' });
    const states = await client.links();
    assert.deepEqual(
      states.map((s) => [s.name, s.mode.kind]),
      [
        [link, 'blackhole'],
        ['other', 'blackhole'],
      ],
    );
    await client.set([link, 'other'], { kind: 'pass' });
    assert.ok((await client.links()).every((s) => s.mode.kind === 'pass'));
  });

  it('refuses an unknown link or mode', async () => {
    await assert.rejects(client.set(['nope'], { kind: 'cut' }), /no link named nope/);
    const res = await fetch(`${client.baseUrl}/links/${link}?mode=sideways`, { method: 'POST' });
    assert.equal(res.status, 400);
    const bad = await fetch(`${client.baseUrl}/links/${link}?mode=delay&ms=-1`, { method: 'POST' });
    assert.equal(bad.status, 400);
  });

  it('leaves no connection open, on either side, once its clients are gone', async () => {
    await client.set([link], { kind: 'pass' });
    const peers = await Promise.all(Array.from({ length: 20 }, () => Peer.connect(port)));
    for (const p of peers) assert.ok(await p.roundTrip('z'));
    await client.set([link], { kind: 'blackhole' });
    const held = await Promise.all(Array.from({ length: 5 }, () => Peer.connect(port)));
    for (const p of [...peers, ...held]) p.socket.destroy();
    assert.ok(await until(() => echo.open() === 0, 1000), `echo server still has ${echo.open()} connections`);
    assert.ok(await until(() => proxy.list().every((s) => s.connections === 0), 1000), JSON.stringify(proxy.list()));
    await client.set([link], { kind: 'pass' });
  });
});
