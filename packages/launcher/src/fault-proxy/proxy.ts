/**
 * A TCP fault proxy for partitions on loopback: one listener per named link, each forwarding
 * to one target, each with its own mode:
 *
 *   pass        forward both ways as they come.
 *   cut         the link is gone as if the far end were down: new connections are refused
 *               (the listener is closed) and open ones are reset (RST), so each side sees
 *               ECONNREFUSED / ECONNRESET at once.
 *   blackhole   a silent partition (packets dropped): new connections are accepted and never
 *               answered, open ones stop carrying bytes either way. Nobody learns of it
 *               except by timing out, which is what makes it nastier than a cut.
 *   delay <ms>  every chunk is forwarded `ms` later, in order.
 *
 * What a blackhole held back is delivered when the link heals, the way TCP retransmits
 * after a partition shorter than its own timeouts: the byte streams stay whole, so the
 * endpoints carry on (or time out) exactly as they would over a real network. A connection
 * accepted during a blackhole dials its target only then.
 *
 * Nothing here knows Redis or HTTP: a link is a byte pipe.
 */
import net from 'node:net';

export type LinkMode = { kind: 'pass' } | { kind: 'cut' } | { kind: 'blackhole' } | { kind: 'delay'; ms: number };

export interface Endpoint {
  host: string;
  port: number;
}

export interface LinkSpec {
  name: string;
  listen: Endpoint;
  target: Endpoint;
}

/** What the proxy process reads at start (main.ts), written by the launcher. */
export interface FaultProxyConfig {
  control: Endpoint;
  links: LinkSpec[];
}

export interface LinkState extends LinkSpec {
  mode: LinkMode;
  /** Client connections open on the link now. */
  connections: number;
}

/** A connection whose held bytes pass this bound is reset: a blackhole must not eat the proxy's memory. */
const MAX_HELD_BYTES = 64 * 1024 * 1024;

export function describeMode(m: LinkMode): string {
  return m.kind === 'delay' ? `delay ${m.ms}` : m.kind;
}

/** Reads `pass`, `cut`, `blackhole`, `delay` (with `ms`), as the control API and its client spell them. */
export function parseMode(kind: string | null | undefined, ms?: string | number | null): LinkMode {
  switch (kind) {
    case 'pass':
    case 'cut':
    case 'blackhole':
      return { kind };
    case 'delay': {
      const n = Number(ms);
      if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new Error(`delay needs ms in 0..600000, got ${String(ms)}`);
      return { kind: 'delay', ms: n };
    }
    default:
      throw new Error(`unknown mode ${String(kind)}; use pass, cut, blackhole or delay`);
  }
}

/** One direction of a connection: bytes from `from` to `to`, held or delayed per the link's mode. */
class Direction {
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  /** Chunks scheduled by a delay and not yet written: a later chunk must not overtake them. */
  private lastRelease = 0;
  private waitingDrain = false;
  to: net.Socket | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly from: net.Socket,
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
  }

  private push(chunk: Buffer): void {
    const mode = this.conn.link.mode;
    if (mode.kind === 'blackhole' || this.to === undefined || this.held.length > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes > MAX_HELD_BYTES) this.conn.reset();
      return;
    }
    this.forward(chunk, mode);
  }

  private forward(chunk: Buffer, mode: LinkMode): void {
    const to = this.to;
    if (to === undefined) return;
    if (mode.kind === 'delay' && mode.ms > 0) {
      // Latency, not a throughput cap: the source keeps flowing while chunks wait. Never
      // before an earlier chunk, even when the delay was shortened meanwhile.
      const at = Math.max(Date.now() + mode.ms, this.lastRelease);
      this.lastRelease = at;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, at - Date.now());
      return;
    }
    if (Date.now() < this.lastRelease) {
      // Delayed chunks still on their way: this one goes right after them.
      const at = this.lastRelease;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, at - Date.now());
      return;
    }
    if (!to.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.from.pause();
      to.once('drain', () => {
        this.waitingDrain = false;
        this.from.resume();
      });
    }
  }

  /** Lets what a blackhole (or an upstream not yet dialled) held back go, in order. */
  release(): void {
    const mode = this.conn.link.mode;
    if (mode.kind === 'blackhole' || this.to === undefined) return;
    const chunks = this.held.splice(0);
    this.heldBytes = 0;
    for (const c of chunks) this.forward(c, mode);
  }
}

class Connection {
  private upstream: net.Socket | undefined;
  private readonly up: Direction;
  private down: Direction | undefined;
  closed = false;

  constructor(
    readonly link: Link,
    private readonly client: net.Socket,
  ) {
    client.setNoDelay(true);
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    // Half-closes pass through; a full close of either side closes both.
    client.on('end', () => this.upstream?.end());
    this.up = new Direction(this, client);
    if (link.mode.kind !== 'blackhole') this.dial();
  }

  private dial(): void {
    if (this.upstream !== undefined || this.closed) return;
    const upstream = net.connect({ host: this.link.spec.target.host, port: this.link.spec.target.port });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    // Refused or reset upstream: the client sees its connection reset, as it would directly.
    upstream.on('error', () => this.reset());
    upstream.on('close', () => this.close());
    upstream.on('end', () => this.client.end());
    upstream.on('connect', () => {
      this.up.to = upstream;
      this.down = new Direction(this, upstream);
      this.down.to = this.client;
      this.up.release();
    });
  }

  /** The link's mode changed. */
  modeChanged(): void {
    if (this.link.mode.kind === 'cut') {
      this.reset();
      return;
    }
    if (this.link.mode.kind === 'blackhole') return;
    this.dial();
    this.up.release();
    this.down?.release();
  }

  /** Both sides see a reset, as when a peer's host goes away. */
  reset(): void {
    if (this.closed) return;
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.close();
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.link.connections.delete(this);
    }
    if (!this.client.destroyed) this.client.destroy();
    if (this.upstream !== undefined && !this.upstream.destroyed) this.upstream.destroy();
  }
}

class Link {
  mode: LinkMode = { kind: 'pass' };
  readonly connections = new Set<Connection>();
  private server: net.Server | undefined;
  /** Mode changes one at a time: a listener closed by a cut must be gone before a heal binds it again. */
  private changing: Promise<void> = Promise.resolve();

  constructor(readonly spec: LinkSpec) {}

  async open(): Promise<void> {
    if (this.server !== undefined) return;
    const server = net.createServer({ noDelay: true }, (socket) => {
      if (this.mode.kind === 'cut') {
        socket.resetAndDestroy();
        return;
      }
      this.connections.add(new Connection(this, socket));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.spec.listen.host, port: this.spec.listen.port, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async shut(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  setMode(mode: LinkMode): Promise<void> {
    const next = this.changing.then(() => this.apply(mode));
    this.changing = next.catch(() => undefined);
    return next;
  }

  private async apply(mode: LinkMode): Promise<void> {
    this.mode = mode;
    if (mode.kind === 'cut') {
      // Closed before the resets, so that a client reconnecting at once is refused.
      const closing = this.shut();
      for (const c of [...this.connections]) c.modeChanged();
      await closing;
      return;
    }
    await this.open();
    for (const c of [...this.connections]) c.modeChanged();
  }

  state(): LinkState {
    return { ...this.spec, mode: this.mode, connections: this.connections.size };
  }
}

export class FaultProxy {
  private readonly links = new Map<string, Link>();

  constructor(specs: readonly LinkSpec[]) {
    for (const s of specs) {
      if (this.links.has(s.name)) throw new Error(`link ${s.name} defined twice`);
      this.links.set(s.name, new Link(s));
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.open()));
  }

  /** Sets the mode of every named link; resolves once open connections and listeners reflect it. */
  async set(names: readonly string[], mode: LinkMode): Promise<void> {
    const links = names.map((n) => {
      const l = this.links.get(n);
      if (l === undefined) throw new Error(`no link named ${n}`);
      return l;
    });
    await Promise.all(links.map((l) => l.setMode(mode)));
  }

  list(): LinkState[] {
    return [...this.links.values()].map((l) => l.state());
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.links.values()].map(async (l) => {
        for (const c of [...l.connections]) c.close();
        await l.shut();
      }),
    );
  }
}
