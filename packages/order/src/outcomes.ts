/**
 * What the order scripts (packages/order/lua/*.lua) return, by name: the one place where
 * their codes are given meaning. Each table mirrors the `Returns` block of its script's
 * header (packages/common/test/lua-headers.test.ts fails when they disagree).
 */
import { nameOf } from '@shop/common/ledger/outcomes.js';

/** add_item.lua: `{code, total}` */
export const ADD_ITEM = { OK: 0, NO_ORDER: 1, PAID: 2, IN_CHECKOUT: 3, TOO_LARGE: 4, TOO_MANY_LINES: 5 } as const;
/** checkout_begin.lua: `{kind, ...}`; TX carries the transaction. */
export const BEGIN = { PAID: 'PAID', NO_ORDER: 'NO_ORDER', EMPTY: 'EMPTY', FROZEN: 'FROZEN', TX: 'TX' } as const;
/** checkout_decide.lua: `{decision, reason}`; NO_TX comes as `{'', 'NO_TX'}`. */
export const DECIDE = { COMMIT: 'commit', ABORT: 'abort', NO_TX: '' } as const;
/** checkout_finish.lua */
export const FINISH = { RETIRED: 1, UNDECIDED: 0 } as const;

export type AddItemResult = { kind: 'OK'; total: number } | { kind: Exclude<keyof typeof ADD_ITEM, 'OK'> };

export function decodeAddItem(reply: unknown): AddItemResult {
  const [code, total] = reply as [number, number];
  const kind = nameOf(ADD_ITEM, code, 'add_item.lua');
  return kind === 'OK' ? { kind, total } : { kind };
}

export function decodeBeginKind(kind: unknown): keyof typeof BEGIN {
  return nameOf(BEGIN, kind, 'checkout_begin.lua');
}

/** The decision in force, or undefined when the transaction has no record. */
export function decodeDecision(decision: unknown): 'commit' | 'abort' | undefined {
  const name = nameOf(DECIDE, decision, 'checkout_decide.lua');
  return name === 'NO_TX' ? undefined : DECIDE[name];
}
