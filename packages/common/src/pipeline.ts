import type { ChainableCommander, Redis } from 'ioredis';
import { Batcher, type BatchObserver } from './batcher.js';
import { callScript } from './lua.js';
import { execSettled, type DurableWriter } from './redis.js';

/**
 * A script whose calls made in the same event-loop turn travel as one pipeline: one socket
 * write and one read for the whole turn instead of one per call.
 *
 * With a `writer`, the batch counts as done only once confirmed by one WAIT, and an unknown
 * outcome (a transient error of any call, or no acknowledgement) replays the whole batch, so
 * the script must be idempotent. Without one, the batch is sent once and a transient error
 * fails every call of it: for writes whose loss a later step repairs. Any other error fails
 * only the call it belongs to.
 */
export function batchedScript<In, Out>(
  redis: Redis,
  writer: DurableWriter | undefined,
  name: string,
  encode: (input: In) => { keys: readonly string[]; args: readonly (string | number)[] },
  observe: BatchObserver = () => undefined,
): (input: In) => Promise<Out> {
  type Settled = { ok: true; value: Out } | { ok: false; error: Error };
  const fill = (pipeline: ChainableCommander, inputs: In[]): void => {
    for (const input of inputs) {
      const { keys, args } = encode(input);
      callScript<ChainableCommander>(pipeline, name, keys, args);
    }
  };
  const send = async (inputs: In[]): Promise<Settled[]> => {
    let replies: [Error | null, unknown][];
    if (writer !== undefined) {
      replies = await writer.idempotentPipeline((p) => fill(p, inputs));
    } else {
      const pipeline = redis.pipeline();
      fill(pipeline, inputs);
      replies = await execSettled(pipeline);
    }
    return replies.map(([err, reply]): Settled => (err ? { ok: false, error: err } : { ok: true, value: reply as Out }));
  };
  const batcher = new Batcher<In, Settled>(send, (size) => observe(name, size));
  return async (input) => {
    const settled = await batcher.call(input);
    if (!settled.ok) throw settled.error;
    return settled.value;
  };
}

/**
 * A script that takes a whole batch in one call: the calls made in the same event-loop turn
 * become one script call whose reply holds one answer per call, in order. Sent once and not
 * confirmed: for writes whose loss a later step repairs (a transient error fails every call
 * of the batch, and their callers retry).
 */
export function batchedCall<In, Out>(
  redis: Redis,
  name: string,
  encode: (inputs: readonly In[]) => { keys: readonly string[]; args: readonly (string | number)[] },
  observe: BatchObserver = () => undefined,
): (input: In) => Promise<Out> {
  const batcher = new Batcher<In, Out>(
    async (inputs) => {
      const { keys, args } = encode(inputs);
      const replies = await callScript<Promise<Out[]>>(redis, name, keys, args);
      if (replies.length !== inputs.length) throw new Error(`${name} answered ${replies.length} replies for ${inputs.length} calls`);
      return replies;
    },
    (size) => observe(name, size),
  );
  return (input) => batcher.call(input);
}
