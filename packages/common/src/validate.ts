import { ShopError } from './errors.js';

/**
 * Ids become part of Redis keys and of the space-separated order lines, so only a strict
 * alphabet is accepted: UUIDs and the decimal ids of batch_init both fit.
 */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const DIGITS = /^[0-9]{1,16}$/;

export function parseId(raw: string | undefined): string {
  if (raw === undefined || !ID.test(raw)) throw new ShopError('BAD_ID');
  return raw;
}

/** A non-negative safe integer written in decimal digits only (no sign, point or exponent). */
export function parseAmount(raw: string | undefined): number {
  if (raw === undefined || !DIGITS.test(raw)) throw new ShopError('BAD_NUMBER');
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new ShopError('BAD_NUMBER');
  return n;
}

export function parseQuantity(raw: string | undefined): number {
  const n = parseAmount(raw);
  if (n < 1) throw new ShopError('BAD_QUANTITY');
  return n;
}

/**
 * Largest n a batch_init accepts: 10x the course's stress setup. One call at the cap costs
 * ~300 MB per Redis node for items, and finishes well inside the gateway's timeout; the
 * Redis memory bound (maxmemory, noeviction) stops repeated calls from exhausting memory.
 */
export const MAX_BATCH = 1_000_000;

export function parseBatchSize(raw: string | undefined): number {
  const n = parseAmount(raw);
  if (n > MAX_BATCH) throw new ShopError('BAD_NUMBER', `at most ${MAX_BATCH} entities per batch_init`);
  return n;
}
