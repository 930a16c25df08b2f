/**
 * The stock service's Redis key schema (a ledger: packages/common/src/ledger/store.ts):
 *
 *   item:<id>   hash  a available stock, h held by undecided checkouts, p price
 *   stx:<tx>    hash  s state of checkout transaction tx here: r reserved, c committed, a aborted
 */
export const ITEM_PREFIX = 'item:';
export const STOCK_TX_PREFIX = 'stx:';
export const itemKey = (id: string): string => ITEM_PREFIX + id;
