/** A small client of the public API through the gateway, for end-to-end tests and tools. */
import { Agent, request } from 'undici';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  contentType: string;
  body: T;
}

export class ShopClient {
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    connections = 128,
  ) {
    this.agent = new Agent({ connections, pipelining: 1, keepAliveTimeout: 10_000 });
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    payload?: string,
  ): Promise<Answer<T>> {
    const res = await request(this.baseUrl + path, { method: method as 'GET', dispatcher: this.agent, headers, body: payload });
    const text = await res.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = { unparsed: text };
    }
    return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body: body as T };
  }

  post<T = Record<string, unknown>>(path: string): Promise<Answer<T>> {
    return this.call<T>('POST', path);
  }

  get<T = Record<string, unknown>>(path: string): Promise<Answer<T>> {
    return this.call<T>('GET', path);
  }

  /** POST that must answer 200; returns the body. */
  async ok<T = Record<string, unknown>>(path: string, method = 'POST'): Promise<T> {
    const a = await this.call<T>(method, path);
    if (a.status !== 200) throw new Error(`${method} ${path} answered ${a.status}: ${JSON.stringify(a.body)}`);
    return a.body;
  }

  async createItem(price: number, stock: number): Promise<string> {
    const { item_id } = await this.ok<{ item_id: string }>(`/stock/item/create/${price}`);
    if (stock > 0) await this.ok(`/stock/add/${item_id}/${stock}`);
    return item_id;
  }

  async createUser(credit: number): Promise<string> {
    const { user_id } = await this.ok<{ user_id: string }>('/payment/create_user');
    if (credit > 0) await this.ok(`/payment/add_funds/${user_id}/${credit}`);
    return user_id;
  }

  async createOrder(userId: string, lines: [string, number][] = []): Promise<string> {
    const { order_id } = await this.ok<{ order_id: string }>(`/orders/create/${userId}`);
    for (const [item, qty] of lines) await this.ok(`/orders/addItem/${order_id}/${item}/${qty}`);
    return order_id;
  }

  async stock(itemId: string): Promise<number> {
    return (await this.ok<{ stock: number }>(`/stock/find/${itemId}`, 'GET')).stock;
  }

  async credit(userId: string): Promise<number> {
    return (await this.ok<{ credit: number }>(`/payment/find_user/${userId}`, 'GET')).credit;
  }

  async order(orderId: string): Promise<{ paid: boolean; total_cost: number; items: [string, number][]; user_id: string }> {
    return this.ok(`/orders/find/${orderId}`, 'GET');
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Runs `tasks` with at most `limit` in flight; results in task order. */
export async function inParallel<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}
