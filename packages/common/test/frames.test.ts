/**
 * The internal frame channel (frames/): the codec on streams cut anywhere, and a real
 * client and server on loopback: answers matched by id, refusals before anything is sent,
 * unknown outcomes after, reconnects, replays, the HTTP fallback and a graceful close.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { UnknownOutcomeError } from '../src/errors.js';
import { FrameClient } from '../src/frames/client.js';
import { FrameReader, MAX_FRAME_BYTES, encodeFrame, type Frame } from '../src/frames/codec.js';
import { serveFrames } from '../src/frames/server.js';
import { InternalCallError, SECRET_HEADER } from '../src/internal-client.js';
import { sleep } from '../src/timing.js';

const SECRET = 's3cret';
const PATH = '/tx/steps';

describe('frame codec', () => {
  const sent: Frame[] = [
    { id: 1, body: { steps: [{ op: 'reserve', tx: 't1', lines: [['item-1', 2]] }] } },
    { id: 2, body: { ok: 'é ∑ 🛒' } }, // multi-byte characters: lengths are in bytes
    { id: 0xffff_ffff, body: { error: 'x'.repeat(70_000) } },
  ];
  const stream = Buffer.concat(sent.map((f) => encodeFrame(f.id, f.body)));

  const readInChunks = (sizes: (i: number) => number): Frame[] => {
    const reader = new FrameReader();
    const frames: Frame[] = [];
    for (let at = 0, i = 0; at < stream.length; i++) {
      const size = sizes(i);
      frames.push(...reader.push(stream.subarray(at, at + size)));
      at += size;
    }
    return frames;
  };

  test('every frame comes out whole, however the stream is cut', () => {
    assert.deepEqual(readInChunks(() => stream.length), sent, 'all in one chunk');
    assert.deepEqual(readInChunks(() => 1), sent, 'one byte at a time (a length itself torn)');
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 9000) + 1;
    assert.deepEqual(readInChunks(random), sent, 'random cuts, frames spanning chunks');
  });

  test('a frame is not handed out before its last byte arrives', () => {
    const reader = new FrameReader();
    assert.deepEqual(reader.push(stream.subarray(0, 20)), []);
    const first = encodeFrame(sent[0]!.id, sent[0]!.body).length;
    assert.deepEqual(reader.push(stream.subarray(20, first - 1)), []);
    assert.deepEqual(reader.push(stream.subarray(first - 1, first)), [sent[0]]);
  });

  test('a length no peer sends is refused', () => {
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    assert.throws(() => new FrameReader().push(huge), /refused/);
    const short = Buffer.alloc(8); // a length that cannot even hold the id
    assert.throws(() => new FrameReader().push(short), /refused/);
  });
});

type Handler = (body: unknown) => Promise<unknown>;

/** A replica on a free loopback port serving frames with `handler` (replaceable). */
async function frameReplica(options: { frames?: boolean; keepAliveTimeout?: number } = {}) {
  const state = {
    url: '',
    handler: (async (body) => ({ echo: body })) as Handler,
    handled: 0,
    httpCalls: 0,
    connections: 0,
    sockets: new Set<Socket>(),
    close: () => undefined as void,
    stop: async (): Promise<void> => {
      for (const s of state.sockets) s.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = http.createServer((req, res) => {
    // As our services answer a method a route does not take (an upgrade GET, when nothing
    // serves frames: Node hands it to the request handler).
    if (req.method !== 'POST') return res.writeHead(405).end();
    state.httpCalls++;
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ overHttp: JSON.parse(body) as unknown }));
    });
  });
  if (options.keepAliveTimeout !== undefined) {
    server.keepAliveTimeout = options.keepAliveTimeout;
    server.headersTimeout = options.keepAliveTimeout + 10;
    server.requestTimeout = options.keepAliveTimeout + 20;
  }
  server.on('connection', (s: Socket) => {
    state.connections++;
    state.sockets.add(s);
    s.on('close', () => state.sockets.delete(s));
  });
  if (options.frames !== false) {
    const frames = serveFrames(server, {
      path: PATH,
      authorized: (req) => req.headers[SECRET_HEADER] === SECRET,
      handle: (body) => {
        state.handled++;
        return state.handler(body);
      },
    });
    state.close = frames.close;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

describe('FrameClient and serveFrames', () => {
  const clients: FrameClient[] = [];
  const replicas: Awaited<ReturnType<typeof frameReplica>>[] = [];
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(replicas.map((r) => r.stop().catch(() => undefined)));
  });
  const replica = async (options?: Parameters<typeof frameReplica>[0]) => {
    const r = await frameReplica(options);
    replicas.push(r);
    return r;
  };
  const client = (urls: string[], options: Partial<ConstructorParameters<typeof FrameClient>[2]> = {}, secret = SECRET) => {
    const c = new FrameClient(urls, secret, { path: PATH, cooldownMs: 10_000, timeoutMs: 2_000, ...options });
    clients.push(c);
    return c;
  };

  /** A raw upgraded socket to `r`, for writing bytes by hand. */
  const rawChannel = (r: { url: string }): Promise<{ socket: Socket; frames: Frame[] }> =>
    new Promise((resolve, reject) => {
      const url = new URL(r.url);
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: PATH,
        agent: false,
        headers: { connection: 'upgrade', upgrade: 'shop-frames/1', [SECRET_HEADER]: SECRET },
      });
      req.on('upgrade', (_res, socket: Socket) => {
        const reader = new FrameReader();
        const frames: Frame[] = [];
        socket.on('data', (chunk: Buffer) => frames.push(...reader.push(chunk)));
        resolve({ socket, frames });
      });
      req.on('error', reject);
      req.end();
    });

  test('a request frame written a byte at a time, across many TCP segments, is answered once whole', async () => {
    const a = await replica();
    const { socket, frames } = await rawChannel(a);
    socket.setNoDelay(true);
    const bytes = Buffer.concat([encodeFrame(7, { torn: 'é' }), encodeFrame(8, { next: true })]);
    for (const byte of bytes) {
      socket.write(Buffer.from([byte]));
      await sleep(1);
    }
    await sleep(50);
    assert.deepEqual(frames, [
      { id: 7, body: { ok: { echo: { torn: 'é' } } } },
      { id: 8, body: { ok: { echo: { next: true } } } },
    ]);
    socket.destroy();
  });

  test('a peer that breaks the framing loses its connection; the server goes on serving others', async () => {
    const a = await replica();
    const { socket } = await rawChannel(a);
    const closed = new Promise((resolve) => socket.on('close', resolve));
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    socket.write(bad);
    await Promise.race([closed, sleep(2_000).then(() => assert.fail('the connection stayed open'))]);
    assert.equal(a.handled, 0);
    assert.deepEqual(await client([a.url]).call({ x: 1 }), { echo: { x: 1 } });
  });

  test('calls share one connection, and concurrent calls each get their own answer', async () => {
    const a = await replica();
    a.handler = async (body) => {
      const { n } = body as { n: number };
      await sleep((5 - n) * 15); // the first call is answered last
      return n * 10;
    };
    const c = client([a.url]);
    const answers = await Promise.all([1, 2, 3, 4].map((n) => c.call<number>({ n })));
    assert.deepEqual(answers, [10, 20, 30, 40]);
    assert.equal(await c.call<number>({ n: 5 }), 50);
    assert.equal(a.connections, 1, 'one connection for every call');
  });

  test('an idle channel outlives the server timeouts that end idle HTTP connections', async () => {
    const a = await replica({ keepAliveTimeout: 100 });
    const c = client([a.url]);
    assert.deepEqual(await c.call({ x: 1 }), { echo: { x: 1 } });
    await sleep(400);
    assert.deepEqual(await c.call({ x: 2 }), { echo: { x: 2 } });
    assert.equal(a.connections, 1);
  });

  test('without the secret the upgrade is refused and nothing is handled', async () => {
    const a = await replica();
    const c = client([a.url], {}, 'wrong');
    await assert.rejects(c.call({ x: 1 }), (err: unknown) => err instanceof InternalCallError && err.status === 401);
    assert.equal(a.handled, 0);
  });

  test('a replica that does not serve frames gets the call over HTTP', async () => {
    const old = await replica({ frames: false });
    const c = client([old.url], {
      fallback: async (body) => {
        const res = await fetch(`${old.url}${PATH}`, { method: 'POST', body: JSON.stringify(body) });
        return (await res.json()) as unknown;
      },
    });
    assert.deepEqual(await c.call({ x: 1 }), { overHttp: { x: 1 } });
    assert.equal(old.httpCalls, 1);
  });

  test('a refused connection moves on to the next replica: nothing was sent, so no unknown outcome', async () => {
    const gone = await replica();
    await gone.stop();
    const b = await replica();
    const c = client([gone.url, b.url]);
    assert.deepEqual(await c.call({ x: 1 }), { echo: { x: 1 } });
    assert.equal(b.handled, 1);
    await assert.rejects(client([gone.url]).call({ x: 1 }), UnknownOutcomeError, 'no replica at all: unknown to the caller, who replays');
  });

  test('a connection lost after sending is an unknown outcome; the replay reconnects to the other replica', async () => {
    const a = await replica();
    const b = await replica();
    a.handler = () => new Promise(() => undefined); // takes the frame, never answers
    const c = client([a.url, b.url]);
    const call = c.call({ step: 'reserve t1' });
    await sleep(50);
    assert.equal(a.handled, 1, 'the frame arrived');
    for (const s of a.sockets) s.destroy(); // the replica dies with the call in flight
    await assert.rejects(call, UnknownOutcomeError);
    assert.deepEqual(await c.call({ step: 'reserve t1' }), { echo: { step: 'reserve t1' } }, 'the replay');
    assert.equal(b.handled, 1, 'the replay went to the replica not cooling down');
  });

  test('a connection closed while idle (the replica restarted) is reopened by the next call, which is sent', async () => {
    const a = await replica();
    const c = client([a.url]);
    assert.deepEqual(await c.call({ x: 1 }), { echo: { x: 1 } });
    for (const s of a.sockets) s.destroy();
    await sleep(20);
    assert.deepEqual(await c.call({ x: 2 }), { echo: { x: 2 } });
    assert.equal(a.connections, 2);
    assert.equal(a.handled, 2);
  });

  test('calls made during a handshake share it: one connection, and its failure moves all of them on', async () => {
    const a = await replica();
    const c = client([a.url]);
    assert.deepEqual(await Promise.all([1, 2, 3].map((x) => c.call({ x }))), [1, 2, 3].map((x) => ({ echo: { x } })));
    assert.equal(a.connections, 1);
    const gone = await replica();
    await gone.stop();
    const b = await replica();
    const c2 = client([gone.url, b.url]);
    assert.deepEqual(await Promise.all([1, 2, 3].map((x) => c2.call({ x }))), [1, 2, 3].map((x) => ({ echo: { x } })));
    assert.equal(b.connections, 1, 'all three went on to the next replica together');
  });

  test('a call unanswered in time is an unknown outcome; its late answer is never taken for the replay', async () => {
    const a = await replica();
    let release: (v: unknown) => void = () => undefined;
    a.handler = async (body) => {
      if ((body as { late?: boolean }).late) return new Promise((resolve) => (release = resolve));
      return { fresh: body };
    };
    const c = client([a.url], { timeoutMs: 150, cooldownMs: 0 });
    await assert.rejects(c.call({ late: true }), (err: unknown) => err instanceof UnknownOutcomeError && /no answer in 150 ms/.test(err.message));
    const replay = c.call({ late: false });
    release({ stale: true }); // the old call's answer, on the old connection (already closed) or not at all
    assert.deepEqual(await replay, { fresh: { late: false } });
    assert.equal(a.connections, 2, 'the timed-out connection was dropped and a new one opened');
  });

  test('an error in the handler is an unknown outcome, and the replica is passed over', async () => {
    const a = await replica();
    const b = await replica();
    a.handler = async () => {
      throw new Error('redis went away');
    };
    const c = client([a.url, b.url]);
    await assert.rejects(c.call({ x: 1 }), (err: unknown) => err instanceof UnknownOutcomeError && /redis went away/.test(err.message));
    assert.deepEqual(await c.call({ x: 2 }), { echo: { x: 2 } });
    assert.equal(b.handled, 1);
  });

  test('close answers the calls in progress, refuses new frames, then ends the connection', async () => {
    const a = await replica();
    let release: (v: unknown) => void = () => undefined;
    a.handler = () => new Promise((resolve) => (release = resolve));
    const c = client([a.url]);
    const inProgress = c.call({ x: 1 });
    await sleep(50);
    a.close();
    const during = c.call({ x: 2 }).catch((err: unknown) => err);
    await sleep(50);
    release('done');
    assert.equal(await inProgress, 'done');
    const refused = await during;
    assert.ok(refused instanceof UnknownOutcomeError && /closing/.test(refused.message), String(refused));
    await sleep(50);
    assert.equal(a.sockets.size, 0, 'the channel connection was ended');
  });
});
