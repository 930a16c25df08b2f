/**
 * Moves a service's client to the primary the Sentinels name when ioredis missed a failover.
 *
 * ioredis follows a failover on the `+switch-master` notice, but its failover detector
 * subscribes again only after each reconnect: a notice that comes while it reconnects after
 * a first failover is lost. Two failovers ~2 s apart (two Sentinel leaders, each promoting a
 * different replica) then leave the client on the server the second one deposed. That server
 * still answers as a primary, so nothing fails: its writes just wait for acknowledgements
 * that never come, until Sentinel demotes it ~10 s later. Measured in the split-brain
 * partition case: the whole payment group stalled 12 s, 24 x 504.
 *
 * So while the durable writer misses acknowledgements (a connection to a deposed primary
 * always does), this asks the Sentinels which primary their newest configuration names; if
 * a majority has named another server for `settleMs`, it drops the connection and ioredis
 * reconnects through the Sentinels. It runs on its own timer and never sends a command on
 * the service's connection, where it would queue behind the very writes that wait.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { DurableWriter } from '../redis.js';
import { runEvery, type BackgroundLoop } from '../timing.js';
import { agreedPrimary, type Address } from './one-shot.js';
import { nodeId, type NodeId } from './promotable.js';

export interface SentinelFollowerOptions {
  redis: Redis;
  writer: DurableWriter;
  sentinels: Address[];
  group: string;
  password: string;
  log: Logger;
  /** How often to look while writes miss acknowledgements. */
  intervalMs?: number;
  /** How long the Sentinels must name another primary: a failover notice moves the client within ~1 s. */
  settleMs?: number;
  /** Each Sentinel query: a paused Sentinel must not hold the check. */
  queryMs?: number;
}

export class SentinelFollower {
  private readonly intervalMs: number;
  private readonly settleMs: number;
  private readonly queryMs: number;
  /** Since when a Sentinel majority names another server than the one connected to. */
  private elsewhereSince: number | undefined;
  private loop: BackgroundLoop | undefined;

  constructor(private readonly o: SentinelFollowerOptions) {
    this.intervalMs = o.intervalMs ?? 250;
    this.settleMs = o.settleMs ?? 1_000;
    this.queryMs = o.queryMs ?? 300;
  }

  start(): void {
    this.loop ??= runEvery(this.intervalMs, () => this.check(), (err) =>
      this.o.log.debug({ group: this.o.group, err: err.message }, 'sentinel follower check failed'),
    );
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
  }

  /** One look; reconnects the client once the Sentinels have named another primary long enough. */
  async check(): Promise<void> {
    const connected = this.o.redis.status === 'ready' ? this.o.writer.degradedOn() : undefined;
    if (connected === undefined) {
      this.elsewhereSince = undefined;
      return;
    }
    const agreed = await agreedPrimary(this.o.sentinels, this.o.password, this.o.group, this.queryMs);
    const named: NodeId | undefined = agreed.primary === undefined ? undefined : nodeId(agreed.primary.host, agreed.primary.port);
    // No majority answered (this process cut off from the Sentinels): nothing to follow.
    if (named === undefined || named === connected || this.o.writer.degradedOn() !== connected) {
      this.elsewhereSince = undefined;
      return;
    }
    this.elsewhereSince ??= Date.now();
    if (Date.now() - this.elsewhereSince < this.settleMs) return;
    this.elsewhereSince = undefined;
    this.o.log.warn({ group: this.o.group, connected, primary: named }, 'connected to a server the Sentinels no longer name primary: reconnecting through them');
    this.o.redis.disconnect(true);
  }
}
