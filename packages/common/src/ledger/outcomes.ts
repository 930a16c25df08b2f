/**
 * What the ledger scripts (lua/ledger/*.lua) return, by name: the one place where their
 * integers are given meaning. Each table mirrors the `Returns` block of its script's header
 * (test/lua-headers.test.ts fails when they disagree), and each decoder turns a reply into
 * the protocol's named result.
 */
import type { ApplyResult, ReserveResult, StepResult } from './protocol.js';

/** steps.lua: a step that failed alone answers `{-1, error}` in its place. */
export const STEPS = { FAILED: -1 } as const;
/** step_reserve.lua: `{code, index}`; index (1-based) names the offending entry. */
export const RESERVE = { OK: 0, ABORTED: 1, UNKNOWN: 2, INSUFFICIENT: 3, BUSY: 4 } as const;
/** step_commit.lua */
export const COMMIT = { OK: 0, ABORTED: 1, NOT_RESERVED: 2 } as const;
/** step_abort.lua */
export const ABORT = { OK: 0, COMMITTED: 1 } as const;
/** adjust.lua: `{code, available}` */
export const ADJUST = { OK: 0, UNKNOWN: 1, INSUFFICIENT: 2, BUSY: 3, TOO_LARGE: 4 } as const;

export type AdjustResult = { code: keyof typeof ADJUST; available: number };

/** The name of `code` in `table`, or a thrown error: a script and its table disagree. */
export function nameOf<T extends Record<string, number | string>>(table: T, code: unknown, script: string): keyof T & string {
  for (const name in table) if (table[name] === code) return name;
  throw new Error(`${script} returned ${String(code)}, which its code table does not name`);
}

export function decodeReserve(reply: unknown): ReserveResult {
  const [code, index] = reply as [number, number];
  const name = nameOf(RESERVE, code, 'step_reserve.lua');
  if (name === 'OK' || name === 'ABORTED') return { code: name };
  return { code: name, line: index - 1 };
}

/** A commit refused because T was aborted, or an abort refused because T was committed: CONFLICT. */
export function decodeApply(op: 'commit' | 'abort', reply: unknown): ApplyResult {
  if (op === 'commit') {
    const name = nameOf(COMMIT, reply, 'step_commit.lua');
    return name === 'ABORTED' ? 'CONFLICT' : name;
  }
  return nameOf(ABORT, reply, 'step_abort.lua') === 'OK' ? 'OK' : 'CONFLICT';
}

/**
 * One step's `{code, index}` in a steps.lua reply: the step's own result, or FAILED with
 * the error that stopped that step alone.
 */
export function decodeStep(op: 'reserve' | 'commit' | 'abort', reply: unknown): StepResult {
  const [code, detail] = reply as [number, number | string];
  if (code === STEPS.FAILED) return { code: 'FAILED', error: String(detail) };
  return op === 'reserve' ? decodeReserve(reply) : decodeApply(op, code);
}

export function decodeAdjust(reply: unknown): AdjustResult {
  const [code, available] = reply as [number, number];
  return { code: nameOf(ADJUST, code, 'adjust.lua'), available };
}
