/**
 * The order service's Redis key schema: the one place that names its keys. The service's
 * code, its Lua headers, and the tests, bench and chaos tools that read the data all use it.
 *
 *   order:<id>      hash  u user, t total_cost, p paid '0'|'1', x id of the checkout transaction
 *                         in progress or '', n number of lines, and one field '#<item>' per line
 *                         holding its quantity (so addItem writes O(1), see add_item.lua),
 *                         h ids of its last checkout transactions, space-separated, newest last;
 *                         an order written by an earlier version may also hold i, lines as
 *                         text ("<item> <qty>\n" each): read as lines too, never rewritten
 *   otx:<tx>        hash  o order, u user, a amount, i lines (snapshot at begin, "<item> <qty>\n"
 *                         each), d decision ''|'commit'|'abort', r reason of an abort,
 *                         s start and t decision time in ms, f failed recovery attempts
 *   otx:active      zset  unfinished transactions, score = start time in ms, pushed forward
 *                         after each failed recovery attempt (checkout_defer.lua)
 *   otx:parked      set   unfinished transactions that failed recovery many times
 *   otx:lease:<tx>  string  which replica is recovering the transaction (avoids duplicate work only)
 *   snapshot:freeze string  set (with a TTL) while a snapshot waits for the unfinished
 *                         transactions to end: no new one opens (checkout_begin.lua)
 */
export const ORDER_PREFIX = 'order:';
export const TX_PREFIX = 'otx:';
export const ACTIVE_KEY = 'otx:active';
export const PARKED_KEY = 'otx:parked';
export const LEASE_PREFIX = 'otx:lease:';
export const FREEZE_KEY = 'snapshot:freeze';
/** Prefix of an order's line fields: '#<item id>' (ids never contain '#'). */
export const LINE_PREFIX = '#';
/** Field of an earlier version's order holding its lines as text. */
export const LEGACY_LINES_FIELD = 'i';

export const orderKey = (id: string): string => ORDER_PREFIX + id;
export const txKey = (tx: string): string => TX_PREFIX + tx;
export const leaseKey = (tx: string): string => LEASE_PREFIX + tx;
export const lineField = (item: string): string => LINE_PREFIX + item;

/** Whether a key under `otx:` is a transaction record (not the active or parked set, nor a lease). */
export const isTxRecordKey = (key: string): boolean =>
  key.startsWith(TX_PREFIX) && key !== ACTIVE_KEY && key !== PARKED_KEY && !key.startsWith(LEASE_PREFIX);
