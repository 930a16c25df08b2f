import http from 'node:http';
import type { Socket } from 'node:net';
import { UnknownOutcomeError } from '../errors.js';
import { InternalCallError, SECRET_HEADER, inTurn } from '../internal-client.js';
import { TIMING } from '../timing.js';
import { FrameReader, encodeFrame } from './codec.js';
import { FRAMES_PROTOCOL } from './server.js';

/**
 * The order service's channel to a participant service: one long-lived connection per
 * replica, opened as an HTTP Upgrade on the replica's internal port (same port, same
 * secret), then carrying frames (codec.ts) both ways.
 *
 * Why not HTTP: a lone checkout's participant calls are on its critical path, and ~0.75 ms
 * of the ~1.5-1.9 ms one such call took over HTTP went to HTTP itself (undici, Fastify
 * routing, hooks and schema, headers both ways), the rest to the participant's Redis round
 * trip and WAIT; a frame on an open connection costs one write and one read each way
 * (docs/measurements.md, "participant steps over a frame channel"). HTTP
 * stays the fallback: a replica that does not know the channel (an older version during a
 * rolling upgrade) answers the upgrade with 404 or 405, and that call goes over HTTP instead.
 *
 * Outcomes as with InternalClient: nothing is sent before the upgrade succeeds, so a
 * replica that cannot be reached or refuses the upgrade is passed over for a cooldown and
 * the next one is tried. After a frame is written, any failure (no answer within the
 * timeout, the connection closing, an error answer) is an unknown outcome: the replica is
 * passed over and the caller replays the call, which is idempotent. A late answer to a call
 * that already failed is dropped by its id, never taken for another call's.
 */
export interface FrameClientOptions {
  /** The path whose upgrade opens the channel. */
  path: string;
  /** How long one call may wait for its answer before its outcome counts as unknown. */
  timeoutMs?: number;
  /** How long a replica that failed or timed out is passed over. */
  cooldownMs?: number;
  /** How long the upgrade handshake may take. */
  connectTimeoutMs?: number;
  /** Sends a call over HTTP when a replica answered the upgrade with 404 or 405 (KNOWS_NO_FRAMES). */
  fallback?: (body: unknown) => Promise<unknown>;
}

/** Answers to the upgrade from a replica that does not serve frames: 404, or 405 (our routes' answer to a GET of a POST route). */
const KNOWS_NO_FRAMES = new Set([404, 405]);

interface Replica {
  url: URL;
  downUntil: number;
  connection?: Promise<Connection>;
}

export class FrameClient {
  private readonly replicas: Replica[];
  private readonly timeoutMs: number;
  private readonly cooldownMs: number;
  private readonly connectTimeoutMs: number;
  private closed = false;

  constructor(
    urls: readonly string[],
    private readonly secret: string,
    private readonly options: FrameClientOptions,
  ) {
    this.replicas = urls.map((url) => ({ url: new URL(url), downUntil: 0 }));
    this.timeoutMs = options.timeoutMs ?? TIMING.internalCall.timeoutMs;
    this.cooldownMs = options.cooldownMs ?? TIMING.internalCall.cooldownMs;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
  }

  /** Sends `body` as one frame to the first replica that takes it; resolves with its answer. */
  async call<T>(body: unknown): Promise<T> {
    let lastError: unknown;
    for (const replica of inTurn(this.replicas)) {
      let connection: Connection;
      try {
        connection = await this.connect(replica);
      } catch (err) {
        if (err instanceof InternalCallError && KNOWS_NO_FRAMES.has(err.status) && this.options.fallback) return (await this.options.fallback(body)) as T;
        if (err instanceof InternalCallError && err.status === 401) throw err; // a wrong secret: no replica will do better
        replica.downUntil = Date.now() + this.cooldownMs;
        lastError = err;
        continue;
      }
      try {
        return (await connection.request(body, this.timeoutMs)) as T;
      } catch (err) {
        replica.downUntil = Date.now() + this.cooldownMs;
        throw err;
      }
    }
    throw new UnknownOutcomeError(`${this.options.path}: no replica reachable (${(lastError as Error | undefined)?.message ?? 'none configured'})`);
  }

  /**
   * The replica's connection, opening one if it has none. Calls made during a handshake share
   * it (and its failure); a connection is forgotten as soon as it fails or closes.
   */
  private connect(replica: Replica): Promise<Connection> {
    if (this.closed) return Promise.reject(new Error('channel client closed'));
    if (replica.connection === undefined) {
      const forget = (): void => {
        if (replica.connection === opening) replica.connection = undefined;
      };
      const opening = upgrade(replica.url, this.options.path, this.secret, this.connectTimeoutMs, forget);
      opening.catch(forget);
      replica.connection = opening;
    }
    return replica.connection;
  }

  close(): void {
    this.closed = true;
    for (const replica of this.replicas) {
      replica.connection?.then((c) => c.close()).catch(() => undefined);
      replica.connection = undefined;
    }
  }
}

/** Opens one channel: GET <path> with `Upgrade`, answered 101, or refused with a status. */
function upgrade(url: URL, path: string, secret: string, timeoutMs: number, onClosed: () => void): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path,
      agent: false,
      headers: { connection: 'upgrade', upgrade: FRAMES_PROTOCOL, [SECRET_HEADER]: secret },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer to the upgrade in ${timeoutMs} ms`)), timeoutMs);
    req.on('upgrade', (res, socket, head) => {
      clearTimeout(timer);
      if (res.headers.upgrade?.toLowerCase() !== FRAMES_PROTOCOL) {
        socket.destroy();
        reject(new Error(`upgraded to ${res.headers.upgrade ?? 'nothing'}, not ${FRAMES_PROTOCOL}`));
        return;
      }
      resolve(new Connection(socket, head, onClosed));
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      reject(new InternalCallError(res.statusCode ?? 0, `upgrade to ${FRAMES_PROTOCOL} refused`));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One open channel: requests out, answers matched back by id. */
class Connection {
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new FrameReader();
  private nextId = 1;
  private open = true;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    private readonly onClosed: () => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.fail(new UnknownOutcomeError('internal channel closed with calls unanswered')));
    if (head.length > 0) this.receive(head);
  }

  request(body: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.open) return Promise.reject(new UnknownOutcomeError('internal channel closed'));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    return new Promise((resolve, reject) => {
      // A call unanswered in time: the replica is stuck or gone. Every call on this
      // connection is then in doubt; closing it fails them all and the next call reconnects.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UnknownOutcomeError(`internal channel: no answer in ${timeoutMs} ms`));
        this.close();
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(encodeFrame(id, body));
    });
  }

  private receive(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.fail(new UnknownOutcomeError(`internal channel: ${(err as Error).message}`));
      return;
    }
    for (const { id, body } of frames) {
      const call = this.pending.get(id);
      if (call === undefined) continue; // the answer to a call that already failed
      this.pending.delete(id);
      clearTimeout(call.timer);
      const answer = body as { ok?: unknown; error?: string };
      if (answer.error !== undefined) call.reject(new UnknownOutcomeError(`internal channel: the replica answered an error: ${answer.error}`));
      else call.resolve(answer.ok);
    }
  }

  private fail(err: Error): void {
    if (this.open) this.onClosed();
    this.open = false;
    this.socket.destroy();
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(err);
    }
    this.pending.clear();
  }

  close(): void {
    this.fail(new UnknownOutcomeError('internal channel closed with calls unanswered'));
  }
}
