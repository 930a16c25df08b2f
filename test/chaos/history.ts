/**
 * What the clients saw: every call the workload made, each HTTP attempt with its answer.
 * The checker judges the final state against this record only, never against what the
 * workload meant to do.
 */

/** Why an attempt told us nothing about the outcome. */
export type IndeterminateKind = 'reset' | 'timeout' | '500' | '502' | '503' | '504' | 'other';

export interface Attempt {
  /** ms since the run's clock started. */
  start: number;
  end: number;
  /** HTTP status, when one came back. */
  status?: number;
  /** The JSON `code` of a refusal. */
  code?: string;
  /** Set when the attempt is indeterminate (5xx or no answer). */
  indeterminate?: IndeterminateKind;
}

/** A definite answer: 2xx or 4xx. */
export interface Definite {
  status: number;
  code?: string;
}

export type CheckoutKind = 'fresh' | 'duplicate' | 'race' | 'repay' | 'poor' | 'ghost-user';

export interface CheckoutRecord {
  orderId: string;
  kind: CheckoutKind;
  attempts: Attempt[];
  /** Undefined when retries ran out without a definite answer. */
  final: Definite | undefined;
}

export interface AddItemRecord {
  orderId: string;
  itemId: string;
  qty: number;
  /** Raced against a checkout of the same order. */
  racing: boolean;
  attempts: Attempt[];
  final: Definite | undefined;
}

export interface BadInputRecord {
  label: string;
  method: 'GET' | 'POST';
  path: string;
  expect: Definite;
  attempts: Attempt[];
  final: Definite | undefined;
}

export interface OrderRecord {
  orderId: string;
  userId: string;
  /** When its creation was answered (run clock); absent for orders made before the load. */
  createdAt?: number;
}

export interface ItemInfo {
  id: string;
  price: number;
  stock: number;
  hot: boolean;
}

export interface UserInfo {
  id: string;
  credit: number;
  poor: boolean;
}

/** The state the workload set up before any fault, read back through the API. */
export interface Initial {
  items: Map<string, ItemInfo>;
  users: Map<string, UserInfo>;
}

export class History {
  readonly orders = new Map<string, OrderRecord>();
  readonly checkouts: CheckoutRecord[] = [];
  readonly addItems: AddItemRecord[] = [];
  readonly badInputs: BadInputRecord[] = [];
  /** Orders that answered a definite 200 to some checkout: candidates for re-checkout. */
  readonly paidOrders: string[] = [];

  addOrder(o: OrderRecord): void {
    this.orders.set(o.orderId, o);
  }

  addCheckout(c: CheckoutRecord): void {
    this.checkouts.push(c);
    if (c.final?.status === 200 && c.kind !== 'repay') this.paidOrders.push(c.orderId);
  }
}

/** Milliseconds since the run began; every time in a report is on this clock. */
export class Clock {
  private readonly t0 = performance.now();
  readonly startedAt = new Date();

  now(): number {
    return Math.round(performance.now() - this.t0);
  }
}
