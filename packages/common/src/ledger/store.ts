import type { ChainableCommander, Redis } from 'ioredis';
import { callScript, defineScripts, luaDir } from '../lua.js';
import { execOrThrow, retryTransient, type DurableWriter } from '../redis.js';
import { decodeAdjust, decodeStep, type AdjustResult } from './outcomes.js';
import type { ApplyResult, ReserveResult, Step, StepResult, TxStep } from './protocol.js';

const SCRIPTS = ['steps', 'adjust'] as const;
/** steps.lua's name of each op. */
const OP_CODE = { reserve: 'r', commit: 'c', abort: 'a' } as const;
/**
 * Most entries one steps.lua call touches: a larger batch is split into several calls in
 * the same pipeline, so no single script holds Redis for long (a call runs ~1 µs per entry).
 */
export const ENTRIES_PER_CALL = 2_000;
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

  /**
   * Applies a batch of mixed, well-formed steps in one pipeline and one replica
   * acknowledgement, as few steps.lua calls as ENTRIES_PER_CALL allows. Commits and aborts
   * run before reserves, so holds they release are free for the reserves of the same
   * batch. Results come back in the order of `steps`.
   *
   * A step that fails inside the script (a wrong-type key, a database at its memory bound)
   * is answered FAILED alone; a call Redis refused as a whole answers FAILED for each of its
   * steps. A transient error leaves the whole batch's outcome unknown, so the batch is
   * replayed (every step is idempotent).
   */
  async apply(steps: readonly Step[]): Promise<StepResult[]> {
    const order = steps.map((_, i) => i).sort((a, b) => rank(steps[a]!) - rank(steps[b]!));
    const calls = splitCalls(order, (i) => steps[i]!.lines.length);
    const replies = await this.writer.idempotentPipeline((pipeline) => {
      for (const call of calls) {
        const keys: string[] = [];
        const args: (string | number)[] = [TX_RECORD_TTL_S];
        for (const i of call) {
          const step = steps[i]!;
          keys.push(this.txPrefix + step.tx);
          args.push(OP_CODE[step.op], step.lines.length);
          for (const [id, amount] of step.lines) {
            keys.push(this.entryPrefix + id);
            args.push(amount);
          }
        }
        callScript<ChainableCommander>(pipeline, 'steps', keys, args);
      }
    });
    const results: StepResult[] = new Array<StepResult>(steps.length);
    calls.forEach((call, c) => {
      const [err, reply] = replies[c]!;
      call.forEach((i, k) => {
        results[i] = err === null ? decode(steps[i]!.op, (reply as unknown[])[k]) : { code: 'FAILED', error: err.message };
      });
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

/** Consecutive runs of `order` touching at most ENTRIES_PER_CALL entries each (a longer step alone). */
export function splitCalls(order: readonly number[], entriesOf: (i: number) => number): number[][] {
  const calls: number[][] = [];
  let current: number[] = [];
  let entries = 0;
  for (const i of order) {
    const n = entriesOf(i);
    if (current.length > 0 && entries + n > ENTRIES_PER_CALL) {
      calls.push(current);
      current = [];
      entries = 0;
    }
    current.push(i);
    entries += n;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

function decode(op: Step['op'], reply: unknown): StepResult {
  try {
    return decodeStep(op, reply);
  } catch (err) {
    return { code: 'FAILED', error: (err as Error).message };
  }
}

/** Entries "0" … "n-1", each with the same available amount: what batch_init creates. */
export function* numberedEntries(n: number, available: number): Generator<[string, number]> {
  for (let i = 0; i < n; i++) yield [String(i), available];
}
