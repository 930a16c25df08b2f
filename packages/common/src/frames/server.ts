import type http from 'node:http';
import type { Socket } from 'node:net';
import { FrameReader, encodeFrame } from './codec.js';

/** The HTTP Upgrade token of the channel; a new version of the frames gets a new token. */
export const FRAMES_PROTOCOL = 'shop-frames/1';

export interface FrameServerOptions {
  /** The path a client asks to upgrade (GET <path> with `Upgrade: shop-frames/1`). */
  path: string;
  /** Whether the upgrade request may open a channel (the internal secret). */
  authorized: (req: http.IncomingMessage) => boolean;
  /** Answers one request's body; a throw is answered as an error frame. */
  handle: (body: unknown) => Promise<unknown>;
  /** Told of every answer: how long it took and whether it was an error. */
  onAnswer?: (seconds: number, failed: boolean) => void;
}

/**
 * Serves the internal channel on an HTTP server's port: a client upgrades one connection
 * (`101 Switching Protocols`) and sends request frames on it for as long as it lives; each is
 * answered, in whatever order they finish, by a frame with the same id holding `{ok: value}`
 * or `{error: message}`. Any other upgrade is refused with a plain HTTP status and closed.
 *
 * `close` answers the frames in progress, then ends each connection; a frame that arrives
 * meanwhile is answered with an error (its client replays it on another replica).
 */
export function serveFrames(server: http.Server, options: FrameServerOptions): { close: () => void } {
  const sockets = new Map<Socket, { inFlight: number }>();
  let closing = false;

  const endIfIdle = (socket: Socket): void => {
    if (closing && sockets.get(socket)?.inFlight === 0) socket.end();
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const refuse = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    const url = req.url?.split('?')[0];
    if (url !== options.path || req.headers.upgrade?.toLowerCase() !== FRAMES_PROTOCOL) return refuse('404 Not Found');
    if (!options.authorized(req)) return refuse('401 Unauthorized');
    if (closing) return refuse('503 Service Unavailable');
    socket.setNoDelay(true);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${FRAMES_PROTOCOL}\r\n\r\n`);
    const state = { inFlight: 0 };
    sockets.set(socket, state);
    const reader = new FrameReader();
    const answer = (id: number, started: bigint, body: { ok: unknown } | { error: string }): void => {
      state.inFlight--;
      options.onAnswer?.(Number(process.hrtime.bigint() - started) / 1e9, 'error' in body);
      if (socket.writable) socket.write(encodeFrame(id, body));
      endIfIdle(socket);
    };
    const onData = (chunk: Buffer): void => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy(); // a peer that breaks the framing cannot be answered in step any more
        return;
      }
      for (const { id, body } of frames) {
        state.inFlight++;
        const started = process.hrtime.bigint();
        if (closing) {
          answer(id, started, { error: 'closing' });
          continue;
        }
        options.handle(body).then(
          (value) => answer(id, started, { ok: value }),
          (err: unknown) => answer(id, started, { error: err instanceof Error ? err.message : String(err) }),
        );
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    if (head.length > 0) onData(head);
  });

  return {
    close: () => {
      closing = true;
      for (const socket of sockets.keys()) endIfIdle(socket);
    },
  };
}
