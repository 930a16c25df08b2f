/**
 * One point-in-time copy of a Redis server's data, read over the replication protocol as
 * `redis-cli --rdb` does: `REPLCONF capa eof`, `REPLCONF rdb-only 1` (the server sends the
 * RDB and no command stream after it), then `SYNC`. The server forks for it: the copy holds
 * the data as it was at the fork, however long the transfer then takes.
 *
 * The connection is opened and authenticated first (`ready`), and SYNC goes out only on
 * `sync()`: the snapshot prepares every stream before it holds checkouts back, so that the
 * pause holds SYNC's one round trip and the fork, not a connect and two more round trips
 * (on a loaded machine each costs a scheduling delay of the busy server and of this process).
 *
 * Why not BGSAVE and a file copy: the snapshot must work where the files are out of reach
 * (containers, pods), and it must know when the point was taken. The RDB payload's header
 * arrives only once the fork is done (diskless: at the fork; on disk: once the file is
 * written), so `forked` resolving is proof that the point lies before that moment.
 */
import net from 'node:net';

export interface RdbCapture {
  /** Resolves once the connection is authenticated and set up: sync() then only sends SYNC. */
  ready: Promise<void>;
  /** Asks for the copy (at once, or as soon as ready): the server forks for it. */
  sync(): void;
  /** Resolves once the server has forked: the copy's point in time is behind us. */
  forked: Promise<void>;
  /** The whole RDB, once received. */
  done: Promise<Buffer>;
  cancel(): void;
}

const EOF_MARK_LEN = 40;

function command(...args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

export function captureRdb(addr: { host: string; port: number }, password: string, timeoutMs = 60_000): RdbCapture {
  let resolveForked!: () => void;
  let rejectForked!: (err: Error) => void;
  const forked = new Promise<void>((res, rej) => {
    resolveForked = res;
    rejectForked = rej;
  });
  forked.catch(() => undefined); // also reported through `done`
  let resolveReady!: () => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined); // also reported through `done`
  let setUp = false;
  let syncAsked = false;
  const socket = net.connect(addr);
  socket.setNoDelay(true);
  const sendSync = (): void => void socket.write(command('SYNC'));
  const done = new Promise<Buffer>((resolve, reject) => {
    const fail = (err: Error) => {
      rejectReady(err);
      rejectForked(err);
      reject(err);
      socket.destroy();
    };
    const timer = setTimeout(() => fail(new Error(`no complete RDB from ${addr.host}:${addr.port} within ${timeoutMs} ms`)), timeoutMs);
    // Replies to AUTH and the two REPLCONFs, then the payload.
    let okToSkip = 3;
    let buf = Buffer.alloc(0);
    let header: { length: number } | { mark: Buffer } | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('connect', () => {
      // SYNC only once these are answered: Redis refuses it while replies are still pending.
      socket.write(Buffer.concat([command('AUTH', password), command('REPLCONF', 'capa', 'eof'), command('REPLCONF', 'rdb-only', '1')]));
    });
    socket.on('error', (err) => fail(new Error(`RDB stream from ${addr.host}:${addr.port}: ${err.message}`)));
    socket.on('close', () => fail(new Error(`RDB stream from ${addr.host}:${addr.port} closed before its end`)));
    socket.on('data', (data: Buffer) => {
      if (header === undefined) {
        buf = Buffer.concat([buf, data]);
        for (;;) {
          // Newlines are the server's keep-alives while it prepares the payload.
          while (buf.length > 0 && buf[0] === 0x0a) buf = buf.subarray(1);
          const eol = buf.indexOf('\r\n');
          if (eol < 0) return;
          const line = buf.subarray(0, eol).toString();
          buf = buf.subarray(eol + 2);
          if (okToSkip > 0) {
            if (!line.startsWith('+')) return fail(new Error(`${addr.host}:${addr.port} refused the RDB stream: ${line}`));
            if (--okToSkip === 0) {
              setUp = true;
              resolveReady();
              if (syncAsked) sendSync();
            }
            continue;
          }
          if (!line.startsWith('$')) return fail(new Error(`${addr.host}:${addr.port} sent "${line}" instead of an RDB`));
          header = line.startsWith('$EOF:') ? { mark: Buffer.from(line.slice(5)) } : { length: Number(line.slice(1)) };
          resolveForked();
          data = buf;
          break;
        }
      }
      if (data.length === 0) return;
      chunks.push(data);
      received += data.length;
      const h = header;
      const whole = 'length' in h ? received >= h.length : received >= EOF_MARK_LEN && tail(chunks, EOF_MARK_LEN).equals(h.mark);
      if (!whole) return;
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      socket.removeAllListeners('close');
      socket.destroy();
      resolve('length' in h ? all.subarray(0, h.length) : all.subarray(0, all.length - EOF_MARK_LEN));
    });
  });
  // A capture given up on (another group failed first) rejects with nobody awaiting it.
  done.catch(() => undefined);
  const sync = (): void => {
    if (syncAsked) return;
    syncAsked = true;
    if (setUp) sendSync();
  };
  return { ready, sync, forked, done, cancel: () => socket.destroy() };
}

/** The last `n` bytes across the chunks. */
function tail(chunks: Buffer[], n: number): Buffer {
  const last = chunks[chunks.length - 1]!;
  if (last.length >= n) return last.subarray(last.length - n);
  return Buffer.concat(chunks).subarray(-n);
}
