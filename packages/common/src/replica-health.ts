import { Redis } from 'ioredis';

export interface SentinelAddress {
  host: string;
  port: number;
}

/** What one Sentinel says of a replica (`SENTINEL REPLICAS <master>`). */
export interface ReplicaState {
  flags: string[];
  /** 'ok' once its link to the primary is up (it then receives every write). */
  link: string;
  /** 'slave', or 'master' for an old primary not yet turned into a replica. */
  role: string;
}

/** One Sentinel's view: replica name (ip:port) → its state. */
export type SentinelView = Map<string, ReplicaState>;

const DOWN_FLAGS = new Set(['s_down', 'o_down', 'disconnected']);

/**
 * How many replicas a write must reach: those that some Sentinel sees up, linked to the
 * primary and acting as replicas. The others are not promoted ahead of them: Sentinel never
 * promotes a replica it sees down; a replica restarted from its AOF reports offset 0 until
 * it has resynced; an old primary not yet demoted has no replica offset at all. A replica
 * that is linked but slow stays in the count: Sentinel ranks by offsets read up to 5 s
 * earlier and may well promote it. Not covered (a second fault): an old primary being
 * resynced reports the offset it stopped at for a second or two, and a failover then
 * could pick it.
 */
export function countToWaitFor(views: readonly SentinelView[]): number {
  const names = new Set(views.flatMap((v) => [...v.keys()]));
  let count = 0;
  for (const name of names) {
    const counted = views.some((v) => {
      const r = v.get(name);
      return r !== undefined && r.link === 'ok' && r.role === 'slave' && !r.flags.some((f) => DOWN_FLAGS.has(f));
    });
    if (counted) count++;
  }
  return count;
}

/** Parses the reply of `SENTINEL REPLICAS`: a list of flat field/value lists. */
export function parseReplicas(reply: unknown): SentinelView {
  const view: SentinelView = new Map();
  if (!Array.isArray(reply)) return view;
  for (const entry of reply) {
    if (!Array.isArray(entry)) continue;
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), String(entry[i + 1]));
    const name = fields.get('name');
    if (name === undefined) continue;
    view.set(name, {
      flags: (fields.get('flags') ?? '').split(','),
      link: fields.get('master-link-status') ?? '',
      role: fields.get('role-reported') ?? '',
    });
  }
  return view;
}

/**
 * The number of replicas a write must reach so that no failover can lose it (see
 * `countToWaitFor`), kept fresh by asking every Sentinel every 250 ms. Unknown (undefined)
 * until all Sentinels answered: then writes wait for every replica.
 *
 * Chaos seed 101 (10 minutes, database faults) lost acknowledged payment writes with two
 * weaker rules: waiting for one replica, and waiting for the replicas the primary heard
 * from within a second, which dropped replicas that were merely slow under load.
 */
export class ReplicasToWaitFor {
  private known: number | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly clients: Redis[];

  constructor(
    sentinels: readonly SentinelAddress[],
    private readonly masterName: string,
    password: string | undefined,
    intervalMs = 250,
  ) {
    this.clients = sentinels.map((s) => {
      const c = new Redis({
        host: s.host,
        port: s.port,
        ...(password !== undefined ? { password } : {}),
        connectionName: 'ack-count',
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        commandTimeout: 1_000,
        retryStrategy: () => 500,
      });
      c.on('error', () => undefined);
      return c;
    });
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  get count(): number | undefined {
    return this.known;
  }

  /** Asks every Sentinel now (joining a poll already under way). Never throws. */
  refresh(): Promise<void> {
    this.inFlight ??= Promise.all(this.clients.map((c) => c.call('SENTINEL', 'REPLICAS', this.masterName).then(parseReplicas)))
      .then(
        (views) => {
          this.known = countToWaitFor(views);
        },
        () => {
          // A Sentinel that does not answer might lead the next failover: assume the worst.
          this.known = undefined;
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  stop(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.disconnect();
  }
}
