import type { ChainableCommander, Redis } from 'ioredis';
import { callScript, defineScripts, luaDir } from '../lua.js';
import { execOrThrow, execSettled, retryTransient, type DurableWriter } from '../redis.js';
import { decodeAdjust, decodeApply, decodeReserve, type AdjustResult } from './outcomes.js';
import type { ApplyResult, ReserveResult, Step, StepResult, TxStep } from './protocol.js';

const SCRIPTS = ['reserve', 'commit', 'abort', 'adjust'] as const;
/** Transaction records and tombstones outlive any retry or paused coordinator by far. */
export const TX_RECORD_TTL_S = 7 * 24 * 3600;


/**
 * A ledger in one Redis: entries `<entryPrefix><id>` (hash: a available, h held, plus the
 * owner's own fields) and transaction records `<txPrefix><tx>` (a string: the state).
 */
export class LedgerStore {
  constructor(
    readonly redis: Redis,
    readonly writer: DurableWriter,
    readonly entryPrefix: string,
    private readonly txPrefix: string,
  ) {
    defineScripts(redis, luaDir('ledger'), SCRIPTS);
  }

  entryKey(id: string): string {
    return this.entryPrefix + id;
  }

  private stepKeysAndArgs(step: TxStep): { keys: string[]; args: (string | number)[] } {
    return {
      keys: [this.txPrefix + step.tx, ...step.lines.map(([id]) => this.entryKey(id))],
      args: [TX_RECORD_TTL_S, ...step.lines.map(([, amount]) => String(amount))],
    };
  }

  /**
   * Applies a batch of mixed, well-formed steps in one pipeline and one replica
   * acknowledgement. Commits and aborts run before reserves, so holds they release are free
   * for the reserves of the same batch. Results come back in the order of `steps`.
   *
   * A step whose script fails (an error reply: a bug, or a database at its memory bound) is
   * answered FAILED alone. A transient error of any step leaves the whole batch's outcome
   * unknown, so the batch is replayed (every step is idempotent).
   */
  async apply(steps: readonly Step[]): Promise<StepResult[]> {
    const order = steps.map((_, i) => i).sort((a, b) => rank(steps[a]!) - rank(steps[b]!));
    const replies = await this.writer.idempotent(async () => {
      const pipeline = this.redis.pipeline();
      for (const i of order) {
        const step = steps[i]!;
        const { keys, args } = this.stepKeysAndArgs(step);
        callScript<ChainableCommander>(pipeline, step.op, keys, args);
      }
      return execSettled(pipeline);
    });
    const results: StepResult[] = new Array<StepResult>(steps.length);
    order.forEach((i, k) => {
      const [err, reply] = replies[k]!;
      results[i] = err === null ? decode(steps[i]!.op, reply) : { code: 'FAILED', error: err.message };
    });
    return results;
  }

  async reserve(steps: TxStep[]): Promise<ReserveResult[]> {
    return (await this.apply(steps.map((s) => ({ ...s, op: 'reserve' })))) as ReserveResult[];
  }

  async commit(steps: TxStep[]): Promise<ApplyResult[]> {
    return (await this.apply(steps.map((s) => ({ ...s, op: 'commit' })))) as ApplyResult[];
  }

  async abort(steps: TxStep[]): Promise<ApplyResult[]> {
    return (await this.apply(steps.map((s) => ({ ...s, op: 'abort' })))) as ApplyResult[];
  }

  /** Public add/subtract. Not idempotent, so never replayed: an unknown outcome is a 503. */
  async adjust(id: string, sign: '+' | '-', amount: number): Promise<AdjustResult> {
    return decodeAdjust(
      await this.writer.once(() => callScript<Promise<unknown>>(this.redis, 'adjust', [this.entryKey(id)], [sign, String(amount)])),
    );
  }

  /** Creates or overwrites entries; `fields` are the owner's extra fields (e.g. price). */
  async put(entries: Iterable<[id: string, available: number]>, fields: Record<string, string | number> = {}): Promise<void> {
    const extra = Object.entries(fields).flat();
    await this.writer.idempotent(async () => {
      let pipeline = this.redis.pipeline();
      let queued = 0;
      for (const [id, available] of entries) {
        pipeline.hset(this.entryKey(id), 'a', available, 'h', 0, ...extra);
        if (++queued === 10_000) {
          await execOrThrow(pipeline);
          pipeline = this.redis.pipeline();
          queued = 0;
        }
      }
      await execOrThrow(pipeline);
    }, 60_000);
  }

  /** The entry's available amount and the requested extra fields, or undefined. */
  async get(id: string, extra: string[] = []): Promise<{ available: number; fields: (string | null)[] } | undefined> {
    const [available, ...fields] = await retryTransient(() => this.redis.hmget(this.entryKey(id), 'a', ...extra));
    if (available === null || available === undefined) return undefined;
    return { available: Number(available), fields };
  }
}

const rank = (step: Step) => (step.op === 'reserve' ? 1 : 0);

function decode(op: Step['op'], reply: unknown): StepResult {
  try {
    return op === 'reserve' ? decodeReserve(reply) : decodeApply(op, reply);
  } catch (err) {
    return { code: 'FAILED', error: (err as Error).message };
  }
}

/** Entries "0" … "n-1", each with the same available amount: what batch_init creates. */
export function* numberedEntries(n: number, available: number): Generator<[string, number]> {
  for (let i = 0; i < n; i++) yield [String(i), available];
}
