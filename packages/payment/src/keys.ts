/**
 * The payment service's Redis key schema (a ledger: packages/common/src/ledger/store.ts):
 *
 *   user:<id>   hash  a available credit, h held by undecided checkouts
 *   ptx:<tx>    hash  s state of checkout transaction tx here: r reserved, c committed, a aborted
 */
export const USER_PREFIX = 'user:';
export const PAYMENT_TX_PREFIX = 'ptx:';
export const userKey = (id: string): string => USER_PREFIX + id;
