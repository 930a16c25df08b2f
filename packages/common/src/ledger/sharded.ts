/**
 * A ledger spread over shards (../shards.ts): each entry lives in one shard's LedgerStore,
 * and a checkout step whose lines live in several shards becomes one step per shard, each
 * with the shard's own record of T, so each part is idempotent and replay-safe on its own.
 *
 *   reserve  parts run shard by shard in ascending order, each only after the one before
 *            held. So a T holds a prefix of the global order (stock shards ascending, then
 *            payment) and waits only for what comes later in it: waits cannot form a cycle.
 *            The step's answer is the first part that did not hold (its line index mapped
 *            back to the step's), or OK once every part held. A BUSY part keeps the parts
 *            before it held, exactly as a wait at the next participant does; a refusal
 *            leaves them to the coordinator's abort, which reaches every shard of the step.
 *   commit / abort  every part at once; the step is OK only if every part is. An abort of
 *            a part never reserved leaves its tombstone, which refuses that part's late
 *            reserve like any other.
 *
 * With one shard it is the LedgerStore itself: nothing changes.
 */
import { groupByShard, shardIndex } from '../shards.js';
import type { AdjustResult } from './outcomes.js';
import type { ApplyResult, Line, Step, StepResult } from './protocol.js';
import type { LedgerStore } from './store.js';

/** What the participant routes need of a ledger, sharded or not. */
export interface Ledger {
  apply(steps: readonly Step[]): Promise<StepResult[]>;
  adjust(id: string, sign: '+' | '-', amount: number): Promise<AdjustResult>;
  put(entries: Iterable<[id: string, available: number]>, fields?: Record<string, string | number>): Promise<void>;
  get(id: string, extra?: string[]): Promise<{ available: number; fields: (string | null)[] } | undefined>;
}

/** A step's lines in one shard, and where each sat in the whole step. */
interface Part {
  shard: number;
  lines: Line[];
  at: number[];
}

export class ShardedLedger implements Ledger {
  private constructor(private readonly shards: readonly LedgerStore[]) {}

  /** The ledger over these shards, in shard order; one shard is used as it is. */
  static over(shards: readonly LedgerStore[]): Ledger {
    if (shards.length === 0) throw new Error('a ledger needs at least one shard');
    return shards.length === 1 ? shards[0]! : new ShardedLedger(shards);
  }

  private of(id: string): LedgerStore {
    return this.shards[shardIndex(id, this.shards.length)]!;
  }

  async apply(steps: readonly Step[]): Promise<StepResult[]> {
    const parts = steps.map((s) => this.split(s.lines));
    const results = new Array<StepResult>(steps.length);
    // Commits and aborts: every part in the first round. Reserves: one part per round.
    const first = steps.map((s, i) => (s.op === 'reserve' ? [parts[i]![0]!] : parts[i]!));
    const answers = await this.round(steps, first);
    const next: number[] = [];
    steps.forEach((step, i) => {
      if (step.op !== 'reserve') results[i] = combineApplied(answers[i]!);
      else if (!held(answers[i]![0]!) || parts[i]!.length === 1) results[i] = mapLine(answers[i]![0]!, parts[i]![0]!);
      else next.push(i);
    });
    for (let k = 1; next.length > 0; k++) {
      const going = next.splice(0);
      const byStep = new Map(going.map((i) => [i, [parts[i]![k]!]]));
      const answered = await this.round(steps, steps.map((_, i) => byStep.get(i) ?? []));
      for (const i of going) {
        const answer = answered[i]![0]!;
        if (!held(answer) || parts[i]!.length === k + 1) results[i] = mapLine(answer, parts[i]![k]!);
        else next.push(i);
      }
    }
    return results;
  }

  /** Runs the given parts of the steps, one batch per shard, all shards at once. */
  private async round(steps: readonly Step[], partsOf: Part[][]): Promise<StepResult[][]> {
    const perShard = new Map<number, { step: number; sub: Step }[]>();
    partsOf.forEach((list, i) => {
      for (const part of list) {
        const batch = perShard.get(part.shard) ?? [];
        batch.push({ step: i, sub: { op: steps[i]!.op, tx: steps[i]!.tx, lines: part.lines } });
        perShard.set(part.shard, batch);
      }
    });
    const answers: StepResult[][] = steps.map(() => []);
    await Promise.all(
      [...perShard].map(async ([shard, batch]) => {
        const replies = await this.shards[shard]!.apply(batch.map((b) => b.sub));
        batch.forEach((b, j) => answers[b.step]!.push(replies[j]!));
      }),
    );
    return answers;
  }

  /** A step's lines by shard, in ascending shard order; a step without lines is one empty part. */
  private split(lines: readonly Line[]): Part[] {
    const indexed = lines.map((line, at) => ({ line, at }));
    const byShard = groupByShard(indexed, (x) => x.line[0], this.shards.length);
    if (byShard.size === 0) return [{ shard: 0, lines: [], at: [] }];
    return [...byShard]
      .sort(([a], [b]) => a - b)
      .map(([shard, xs]) => ({ shard, lines: xs.map((x) => x.line), at: xs.map((x) => x.at) }));
  }

  adjust(id: string, sign: '+' | '-', amount: number): Promise<AdjustResult> {
    return this.of(id).adjust(id, sign, amount);
  }

  async put(entries: Iterable<[id: string, available: number]>, fields: Record<string, string | number> = {}): Promise<void> {
    const byShard = groupByShard(entries, ([id]) => id, this.shards.length);
    await Promise.all([...byShard].map(([shard, list]) => this.shards[shard]!.put(list, fields)));
  }

  get(id: string, extra: string[] = []): Promise<{ available: number; fields: (string | null)[] } | undefined> {
    return this.of(id).get(id, extra);
  }
}

function held(result: StepResult): boolean {
  return typeof result === 'object' && result.code === 'OK';
}

/** A part's reserve answer, with the offending line's index as it is in the whole step. */
function mapLine(result: StepResult, part: Part): StepResult {
  if (typeof result === 'object' && 'line' in result) return { ...result, line: part.at[result.line] ?? result.line };
  return result;
}

/** Precedence of a commit or abort answer across parts: the worst one is the step's. */
const SEVERITY: Record<ApplyResult | 'FAILED', number> = { OK: 0, INVALID: 1, NOT_RESERVED: 2, CONFLICT: 3, FAILED: 4 };

/**
 * A commit or abort is done only when every part is. A failed part makes the whole step's
 * outcome unknown to the caller, who sends it again: every part is idempotent.
 */
function combineApplied(answers: StepResult[]): StepResult {
  let worst: StepResult = 'OK';
  for (const a of answers) if (severity(a) > severity(worst)) worst = a;
  return worst;
}

function severity(result: StepResult): number {
  return typeof result === 'string' ? SEVERITY[result] : result.code === 'FAILED' ? SEVERITY.FAILED : 0;
}
