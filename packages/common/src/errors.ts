/**
 * The one registry of error codes a client can see, from the services and from the gateway,
 * with their HTTP status; business refusals are 400 as in the reference system. Entries
 * marked `gateway` are also (or only) answered by nginx itself: packages/launcher/src/nginx.ts makes its
 * error pages from them. `nginxStatus` is the status nginx raises internally when it differs.
 */
export const ERRORS = {
  BAD_ID: { status: 400, message: 'the id is not valid' },
  BAD_NUMBER: { status: 400, message: 'the number is not a non-negative safe integer' },
  BAD_QUANTITY: { status: 400, message: 'the quantity must be an integer of at least 1' },
  TOO_LARGE: { status: 400, message: 'the result would pass 2^53 - 1' },
  UNKNOWN_ITEM: { status: 400, message: 'no item has this id' },
  UNKNOWN_USER: { status: 400, message: 'no user has this id' },
  UNKNOWN_ORDER: { status: 400, message: 'no order has this id' },
  OUT_OF_STOCK: { status: 400, message: 'not enough stock' },
  INSUFFICIENT_CREDIT: { status: 400, message: 'not enough credit' },
  EMPTY_ORDER: { status: 400, message: 'the order has no items' },
  ORDER_TOO_LARGE: { status: 400, message: 'an order holds at most 1000 distinct items' },
  ORDER_PAID: { status: 400, message: 'the order is already paid' },
  ORDER_IN_CHECKOUT: { status: 400, message: 'the order is being checked out' },
  ORDER_REPLACED: { status: 400, message: 'the order was re-created while it was being checked out' },
  NOT_FOUND: { status: 404, message: 'no such route', gateway: true },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this route', gateway: true },
  UNAUTHORIZED: { status: 401, message: 'internal call without a valid secret' },
  BAD_REQUEST: { status: 400, message: 'malformed request', gateway: true },
  UNCONFIRMED: { status: 503, message: 'the database did not confirm the write in time; its outcome is unknown' },
  UNAVAILABLE: { status: 503, message: 'a service this call needs is unavailable; try again' },
  DATABASE_FULL: { status: 507, message: 'the database reached its memory bound and refuses writes; nothing changed' },
  INTERNAL: { status: 500, message: 'internal error' },
  // Answered by the gateway only.
  REQUEST_TIMEOUT: { status: 408, message: 'request not received in time', gateway: true },
  TOO_MANY_CONNECTIONS: { status: 429, message: 'too many connections from this address', gateway: true },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large', gateway: true },
  URI_TOO_LONG: { status: 414, message: 'request URI too long', gateway: true },
  HEADER_TOO_LARGE: { status: 400, message: 'request headers too large', gateway: true, nginxStatus: 494 },
  INTERNAL_ERROR: { status: 500, message: 'gateway internal error', gateway: true },
  NOT_IMPLEMENTED: { status: 501, message: 'transfer encoding or method not implemented', gateway: true },
  BAD_GATEWAY: { status: 502, message: 'no replica of the service answered', gateway: true },
  SERVICE_UNAVAILABLE: { status: 503, message: 'service unavailable', gateway: true },
  GATEWAY_TIMEOUT: { status: 504, message: 'the service did not answer in time', gateway: true },
  HTTP_VERSION_NOT_SUPPORTED: { status: 505, message: 'HTTP version not supported', gateway: true },
} as const satisfies Record<string, { status: number; message: string; gateway?: true; nginxStatus?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/** A refusal or fault that maps to one response: `{"error": message, "code": code}`. */
export class ShopError extends Error {
  override name = 'ShopError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
  ) {
    super(message ?? ERRORS[code].message);
    this.status = ERRORS[code].status;
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/**
 * What a caller may do about a failure, decided once where the failure is first seen (the
 * Redis boundary: `classifyRedisError` in redis.ts, which also names the errors Redis
 * refused unrun, safe to send again; the internal client) and never again by matching
 * messages:
 *
 *   UnknownOutcomeError    the operation may or may not have applied (a timeout, a lost
 *                          connection): replay it if it is idempotent, else read to learn.
 *   UnconfirmedWriteError  an UnknownOutcomeError whose retries ran out: the write was sent
 *                          and no promotable replica confirmed it. Answered 503 UNCONFIRMED.
 *   ShopError              a final answer from the registry (a refusal, or UNAVAILABLE when
 *                          nothing was done and the caller may simply try again later).
 */
export class UnknownOutcomeError extends Error {
  override name = 'UnknownOutcomeError';
}

export class UnconfirmedWriteError extends UnknownOutcomeError {
  override name = 'UnconfirmedWriteError';
}
