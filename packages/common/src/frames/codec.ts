/**
 * The frames of the internal channel (see client.ts for why a channel and not HTTP): a 4-byte
 * big-endian length of what follows, a 4-byte request id, then a UTF-8 JSON body. The id
 * pairs an answer with its request, so a late answer to a call that already timed out is
 * never taken for the answer to a later one.
 */
export const HEADER_BYTES = 8;
/**
 * A frame longer than this is a broken or hostile peer: the connection is dropped. The
 * internal HTTP surface takes bodies up to the same bound (http.ts).
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface Frame {
  id: number;
  body: unknown;
}

export function encodeFrame(id: number, body: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + json.length);
  frame.writeUInt32BE(json.length + 4, 0);
  frame.writeUInt32BE(id, 4);
  json.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Rebuilds frames from a byte stream that TCP may cut anywhere: a chunk may hold part of a
 * frame, several frames, or the end of one and the start of the next.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Adds a chunk; returns the frames it completed. Throws on a frame no peer of ours sends. */
  push(chunk: Buffer): Frame[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Frame[] = [];
    while (this.pendingBytes >= 4) {
      const head = this.pending[0]!.length >= 4 ? this.pending[0]! : this.joined();
      const length = head.readUInt32BE(0);
      if (length < 4 || length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes refused`);
      if (this.pendingBytes < 4 + length) break;
      const all = this.joined();
      const id = all.readUInt32BE(4);
      const body: unknown = JSON.parse(all.toString('utf8', HEADER_BYTES, 4 + length));
      frames.push({ id, body });
      const rest = all.subarray(4 + length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    return frames;
  }

  private joined(): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0]!;
  }
}
