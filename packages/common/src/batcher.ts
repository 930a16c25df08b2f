/** Receives the size of each batch of a kind (e.g. 'checkout_begin'): see Metrics.observeBatch. */
export type BatchObserver = (kind: string, size: number) => void;

/**
 * Collects the calls made during one event-loop turn and hands them to `flush` as one
 * batch: many checkouts then share one internal HTTP request and one Redis round trip.
 * Each caller gets its own result (or the batch's error) back.
 *
 * A call that nobody waits for soon (`callWithin`) does not start a batch of its own: it
 * rides in the next batch that `call` starts, or leaves on its own after its delay.
 *
 * With `maxInFlight`, a batch leaves only while fewer than that are unsettled; calls made
 * meanwhile wait and leave together at the end of the turn in which one settles.
 */
export interface BatchLimits {
  /** Calls in one batch at most (default 256); a full batch leaves at once. */
  maxBatch?: number;
  /** Batches flushed and not yet settled, at most (default unlimited). */
  maxInFlight?: number;
}

export class Batcher<In, Out> {
  private queue: { input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly flush: (inputs: In[]) => Promise<Out[]>,
    /** Told the size of every batch flushed (for the batch-size metric). */
    private readonly onFlush: (size: number) => void = () => undefined,
    { maxBatch = 256, maxInFlight = Infinity }: BatchLimits = {},
  ) {
    this.maxBatch = maxBatch;
    this.maxInFlight = maxInFlight;
  }

  call(input: In): Promise<Out> {
    return this.enqueue(input, () => {
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.drain());
      }
    });
  }

  /** Like `call`, but waits up to `ms` for a batch started by `call` before starting one. */
  callWithin(input: In, ms: number): Promise<Out> {
    return this.enqueue(input, () => {
      if (!this.scheduled && this.timer === undefined) this.timer = setTimeout(() => this.drain(), ms);
    });
  }

  /** Queues `input`; a full batch leaves at once, otherwise `schedule` decides when. */
  private enqueue(input: In, schedule: () => void): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.drain();
      else schedule();
    });
  }

  private drain(): void {
    this.scheduled = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.onFlush(batch.length);
    this.inFlight++;
    this.flush(batch.map((b) => b.input))
      .then(
        (outs) => {
          batch.forEach((b, i) => b.resolve(outs[i]!));
        },
        (err: unknown) => {
          for (const b of batch) b.reject(err);
        },
      )
      .finally(() => {
        const wasFull = this.inFlight === this.maxInFlight;
        this.inFlight--;
        // Calls the cap held back leave at the end of this turn, with whatever the answer's
        // callers add. Without a cap nothing was held back: nothing to do.
        if (wasFull && this.queue.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.drain());
        }
      });
  }
}
