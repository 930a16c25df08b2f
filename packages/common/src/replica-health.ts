import { Redis } from 'ioredis';

export interface SentinelAddress {
  host: string;
  port: number;
}

/** One Sentinel's answer to `SENTINEL REPLICAS <master>`: replica name (ip:port) → flags. */
export type SentinelView = Map<string, string[]>;

const DOWN_FLAGS = new Set(['s_down', 'o_down', 'disconnected']);

/**
 * How many replicas some Sentinel could promote, given every Sentinel's view: a replica
 * counts unless each Sentinel either does not know it or flags it down. Sentinel never
 * promotes a replica it sees down, so a write acknowledged by all the replicas counted
 * here survives any failover.
 */
export function countPromotable(views: readonly SentinelView[]): number {
  const names = new Set(views.flatMap((v) => [...v.keys()]));
  let count = 0;
  for (const name of names) {
    if (views.some((v) => (v.get(name) ?? ['unknown']).every((f) => !DOWN_FLAGS.has(f) && f !== 'unknown'))) count++;
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
    if (name !== undefined) view.set(name, (fields.get('flags') ?? '').split(','));
  }
  return view;
}

/**
 * The number of replicas a write must reach so that no failover can lose it, kept fresh by
 * asking every Sentinel (every 250 ms). Unknown (undefined) until all Sentinels answered.
 *
 * Why ask the Sentinels and not the primary: Sentinel picks the replica to promote by
 * replication offsets it read up to 5 s earlier, so it may promote a replica that merely
 * lagged (chaos seed 101 lost acknowledged payment writes twice that way: once waiting for
 * one replica, once dropping replicas whose acknowledgements were more than a second late).
 * The one rule it never breaks is not to promote a replica it sees down. So a write waits
 * for every replica except those all Sentinels see down: a stopped or dead replica leaves
 * the count about a second after it stopped (down-after-milliseconds), a slow one never does.
 */
export class PromotableReplicas {
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
          this.known = countPromotable(views);
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
