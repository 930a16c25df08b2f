/**
 * The durability rule of the ceiling skeleton: no write is answered before `acks` replicas
 * confirmed it (WAIT). WAIT blocks the connection that sent it, so one WAIT per write on a
 * shared connection would serialise every request behind a replication round trip; instead
 * the writes that arrive while a batch is in flight go out together in the next pipeline,
 * which ends with one WAIT covering all of them. One batch in flight per connection.
 */
import type { ChainableCommander, Redis } from 'ioredis';

interface Job {
  add: (p: ChainableCommander) => void;
  resolve: (reply: unknown) => void;
  reject: (err: Error) => void;
}

export class GroupCommit {
  private queue: Job[] = [];
  private inFlight = false;

  constructor(
    private readonly redis: Redis,
    private readonly acks: number,
    private readonly waitMs: number,
  ) {}

  /** `add` puts exactly one command in the pipeline; resolves with its reply once durable. */
  write(add: (p: ChainableCommander) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ add, resolve, reject });
      if (!this.inFlight) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.inFlight = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const p = this.redis.pipeline();
      for (const j of batch) j.add(p);
      if (this.acks > 0) p.wait(this.acks, this.waitMs);
      try {
        const replies = (await p.exec()) ?? [];
        const acked = this.acks > 0 ? Number(replies[batch.length]?.[1] ?? 0) : 0;
        // A write the replicas did not confirm in time has an unknown fate: never answer it as done.
        const shortfall = acked < this.acks ? new Error(`WAIT ${this.acks}: only ${acked} replicas confirmed`) : undefined;
        batch.forEach((j, i) => {
          const [err, reply] = replies[i] ?? [new Error('no reply'), undefined];
          if (err) j.reject(err);
          else if (shortfall) j.reject(shortfall);
          else j.resolve(reply);
        });
      } catch (err) {
        for (const j of batch) j.reject(err as Error);
      }
    }
    this.inFlight = false;
  }
}
