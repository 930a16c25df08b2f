import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { UnknownOutcomeError } from '../src/errors.js';
import { InternalClient, SECRET_HEADER } from '../src/internal-client.js';
import { sleep } from '../src/timing.js';

/** A stand-in replica on a free loopback port; `mode` decides how it answers. */
async function replica(name: string): Promise<{ url: string; mode: 'ok' | 'fail' | 'hang'; seen: number; close(): Promise<void> }> {
  const state = {
    url: '',
    mode: 'ok' as 'ok' | 'fail' | 'hang',
    seen: 0,
    close: async (): Promise<void> => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = http.createServer((req, res) => {
    state.seen++;
    assert.equal(req.headers[SECRET_HEADER], 's3cret');
    if (state.mode === 'hang') return;
    res.writeHead(state.mode === 'fail' ? 503 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ replica: name }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

describe('InternalClient: one active replica, the others standing by', () => {
  const clients: InternalClient[] = [];
  const replicas: Awaited<ReturnType<typeof replica>>[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(replicas.map((r) => r.close().catch(() => undefined)));
  });

  async function setUp(cooldownMs: number, timeoutMs = 2_000) {
    const a = await replica('a');
    const b = await replica('b');
    replicas.push(a, b);
    const client = new InternalClient([a.url, b.url], 's3cret', { cooldownMs, timeoutMs });
    clients.push(client);
    const who = async (): Promise<string> => (await client.post<{ replica: string }>('/x', {})).replica;
    return { a, b, client, who };
  }

  it('sends every call to the first replica while it answers', async () => {
    const { a, b, who } = await setUp(1_000);
    for (let i = 0; i < 10; i++) assert.equal(await who(), 'a');
    assert.equal(a.seen, 10);
    assert.equal(b.seen, 0);
  });

  it('passes over a replica that answered 5xx for the cooldown, then returns to it', async () => {
    const { a, b, who } = await setUp(300);
    a.mode = 'fail';
    await assert.rejects(who(), UnknownOutcomeError, 'a 5xx after the call arrived is an unknown outcome, not re-sent');
    assert.equal(b.seen, 0);
    a.mode = 'ok';
    assert.equal(await who(), 'b');
    assert.equal(await who(), 'b');
    await sleep(350);
    assert.equal(await who(), 'a');
  });

  it('moves on at once when the first replica refuses the connection', async () => {
    const { a, who } = await setUp(60_000);
    await a.close();
    assert.equal(await who(), 'b');
    assert.equal(await who(), 'b');
  });

  it('gives a call to a hung replica an unknown outcome, and the next one to the standby', async () => {
    const { a, b, who } = await setUp(60_000, 200);
    a.mode = 'hang';
    await assert.rejects(who(), UnknownOutcomeError);
    assert.equal(b.seen, 0);
    assert.equal(await who(), 'b');
  });

  it('tries every replica once when all are cooling down, the one back soonest first', async () => {
    const { a, b, who } = await setUp(60_000);
    a.mode = 'fail';
    await assert.rejects(who(), UnknownOutcomeError);
    b.mode = 'fail';
    await assert.rejects(who(), UnknownOutcomeError);
    const [seenA, seenB] = [a.seen, b.seen];
    a.mode = 'ok';
    assert.equal(await who(), 'a', 'a cools down first, so it is tried first');
    assert.deepEqual([a.seen, b.seen], [seenA + 1, seenB]);
  });
});
