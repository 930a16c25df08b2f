import type { ChainableCommander, Redis } from 'ioredis';
import { callScript, defineScripts, luaDir } from '../lua.js';
import { execOrThrow, execSettled, retryTransient, type DurableWriter } from '../redis.js';
import type { FinishResult, Line, ReserveResult, Step, StepResult, TxStep } from './protocol.js';

const SCRIPTS = ['reserve', 'commit', 'abort', 'adjust'] as const;
/** Transaction records and tombstones outlive any retry or paused coordinator by far. */
export const TX_RECORD_TTL_S = 7 * 24 * 3600;

const RESERVE_CODES = ['OK', 'ABORTED', 'UNKNOWN', 'INSUFFICIENT', 'BUSY'] as const;
const FINISH_CODES: FinishResult[] = ['OK', 'CONFLICT', 'NOT_RESERVED'];

export type AdjustResult =
  | { code: 'OK'; available: number }
  | { code: 'UNKNOWN' | 'INSUFFICIENT' | 'BUSY' | 'TOO_LARGE'; available: number };
const ADJUST_CODES = ['OK', '', 'UNKNOWN', 'INSUFFICIENT', 'BUSY', 'TOO_LARGE'] as const;

/**
 * A ledger in one Redis: entries `<entryPrefix><id>` (hash: a available, h held, plus the
 * owner's own fields) and transaction records `<txPrefix><tx>` (hash: s state).
 */
export class LedgerStore {
  constructor(
    readonly redis: Redis,
    readonly writer: DurableWriter,
    readonly entryPrefix: string,
    private readonly txPrefix: string,
  ) {
    defineScripts(redis, luaDir('common', 'ledger'), SCRIPTS);
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

  async commit(steps: TxStep[]): Promise<FinishResult[]> {
    return (await this.apply(steps.map((s) => ({ ...s, op: 'commit' })))) as FinishResult[];
  }

  async abort(steps: TxStep[]): Promise<FinishResult[]> {
    return (await this.apply(steps.map((s) => ({ ...s, op: 'abort' })))) as FinishResult[];
  }

  /** Public add/subtract. Not idempotent, so never replayed: an unknown outcome is a 503. */
  async adjust(id: string, sign: '+' | '-', amount: number): Promise<AdjustResult> {
    const [code, available] = await this.writer.once(() =>
      callScript<Promise<[number, number]>>(this.redis, 'adjust', [this.entryKey(id)], [sign, String(amount)]),
    );
    const name = ADJUST_CODES[code];
    if (name === undefined || name === '') throw new Error(`adjust.lua returned unknown code ${code}`);
    return { code: name, available };
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
  if (op === 'reserve') {
    const [code, line] = reply as [number, number];
    const name = RESERVE_CODES[code];
    if (name === 'OK' || name === 'ABORTED') return { code: name };
    if (name === undefined) return { code: 'FAILED', error: `reserve.lua returned unknown code ${code}` };
    return { code: name, line: line - 1 };
  }
  const code = reply as number;
  if (op === 'abort') return code === 0 ? 'OK' : 'CONFLICT';
  return FINISH_CODES[code] ?? 'CONFLICT';
}

/** Lines of one entry each, merged: a transaction holds each entry once. */
export function mergeLines(lines: Iterable<Line>): Line[] {
  const merged = new Map<string, number>();
  for (const [id, amount] of lines) merged.set(id, (merged.get(id) ?? 0) + amount);
  return [...merged];
}

/** Entries "0" … "n-1", each with the same available amount: what batch_init creates. */
export function* numberedEntries(n: number, available: number): Generator<[string, number]> {
  for (let i = 0; i < n; i++) yield [String(i), available];
}
