/**
 * The public routes of API.md, as data. The gateway forwards these and nothing else, so a
 * route added to a service is not public until it is added here (and to API.md).
 */
import type { ServiceName } from '@shop/common/config.js';
import { TIMING } from '@shop/common/timing.js';

export type Method = 'GET' | 'POST';

export interface Route {
  service: ServiceName;
  method: Method;
  /** Path after the service prefix, with `{param}` segments. */
  path: string;
  /**
   * May the gateway re-send this call to another replica after it was sent? Only for calls
   * that are idempotent by design: checkout is keyed by its order and runs at most once.
   */
  resendable: boolean;
  /** Seconds the gateway waits for the replica's answer. */
  readTimeoutS: number;
  /**
   * May the call wait long on purpose (for other checkouts' holds, or a batch_init)? Then its
   * slowness never marks a replica failed (see the upstreams in nginx.ts).
   */
  waits: boolean;
}

export const PREFIX: Record<ServiceName, string> = { order: '/orders', stock: '/stock', payment: '/payment' };

/**
 * Read timeouts (packages/common/src/timing.ts, where their relations are pinned): long
 * enough for a paused replica to be given up on, short of a client's patience; a checkout,
 * which another replica can take over, is given up on sooner; a subtract or
 * pay answers its own 503 after waiting for holds, before the gateway gives up; a batch_init
 * is not re-sent, so a long wait costs nothing.
 */
const {
  readTimeoutS: DEFAULT_TIMEOUT_S,
  checkoutReadTimeoutS: RESENDABLE_TIMEOUT_S,
  batchReadTimeoutS: BATCH_TIMEOUT_S,
  holdRouteReadTimeoutS: HOLD_WAIT_TIMEOUT_S,
} = TIMING.gateway;

type Kind = 'plain' | 'resendable' | 'holds';

function route(service: ServiceName, method: Method, p: string, kind: Kind = 'plain'): Route {
  const batch = p.startsWith('/batch_init/');
  const readTimeoutS = batch
    ? BATCH_TIMEOUT_S
    : kind === 'holds'
      ? HOLD_WAIT_TIMEOUT_S
      : kind === 'resendable'
        ? RESENDABLE_TIMEOUT_S
        : DEFAULT_TIMEOUT_S;
  return { service, method, path: p, resendable: kind === 'resendable', readTimeoutS, waits: batch || kind !== 'plain' };
}

export const ROUTES: readonly Route[] = [
  route('stock', 'POST', '/item/create/{price}'),
  route('stock', 'GET', '/find/{item_id}'),
  route('stock', 'POST', '/add/{item_id}/{amount}'),
  route('stock', 'POST', '/subtract/{item_id}/{amount}', 'holds'),
  route('stock', 'POST', '/batch_init/{n}/{starting_stock}/{item_price}'),
  route('payment', 'POST', '/create_user'),
  route('payment', 'GET', '/find_user/{user_id}'),
  route('payment', 'POST', '/add_funds/{user_id}/{amount}'),
  route('payment', 'POST', '/pay/{user_id}/{amount}', 'holds'),
  route('payment', 'POST', '/batch_init/{n}/{starting_money}'),
  route('order', 'POST', '/create/{user_id}'),
  route('order', 'GET', '/find/{order_id}'),
  route('order', 'POST', '/addItem/{order_id}/{item_id}/{quantity}'),
  route('order', 'POST', '/checkout/{order_id}', 'resendable'),
  route('order', 'POST', '/batch_init/{n}/{n_items}/{n_users}/{item_price}'),
];

/**
 * Anchored regex of a route's public path. A parameter may be empty: the contract makes an
 * empty amount a 400 from the service, not a 404 from the gateway.
 */
export function publicPathRegex(r: Route): string {
  const escaped = r.path.replace(/[.]/g, '\\.').replace(/\{[a-z_]+\}/g, '[^/]*');
  return `^${PREFIX[r.service]}${escaped}$`;
}
