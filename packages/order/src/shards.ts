/**
 * The orders of every shard (@shop/common/shards.ts): an order, and the checkout
 * transactions of it, live on the shard its id hashes to, so each checkout script touches
 * one shard only. Each shard has its own unfinished set, recovered by its own loop.
 */
import { groupByShard, shardIndex } from '@shop/common/shards.js';
import type { AddItemResult, Decision, NewOrder, Order, OrderStore, TxRecord } from './store.js';

export class OrderShards {
  constructor(readonly stores: readonly OrderStore[]) {
    if (stores.length === 0) throw new Error('orders need at least one shard');
  }

  /** The store of the shard holding this order. */
  of(orderId: string): OrderStore {
    return this.stores[shardIndex(orderId, this.stores.length)]!;
  }

  create(orderId: string, userId: string): Promise<void> {
    return this.of(orderId).create(orderId, userId);
  }

  find(orderId: string): Promise<Order | undefined> {
    return this.of(orderId).find(orderId);
  }

  addItem(orderId: string, itemId: string, quantity: number, cost: number): Promise<AddItemResult> {
    return this.of(orderId).addItem(orderId, itemId, quantity, cost);
  }

  /** batch_init: orders "0" … "n-1", each written to its own shard. */
  async putMany(n: number, make: (i: number) => NewOrder): Promise<void> {
    const orders = Array.from({ length: n }, (_, i): [string, NewOrder] => [String(i), make(i)]);
    const byShard = groupByShard(orders, ([id]) => id, this.stores.length);
    await Promise.all([...byShard].map(([shard, list]) => this.stores[shard]!.putMany(list)));
  }

  begin(orderId: string, newTxId: string) {
    return this.of(orderId).begin(orderId, newTxId);
  }

  decide(tx: TxRecord, decision: Decision, reason: string) {
    return this.of(tx.orderId).decide(tx, decision, reason);
  }

  /** Retires T (see OrderStore.finish) on its order's shard. */
  finish(tx: Pick<TxRecord, 'id' | 'orderId'>): Promise<void> {
    return this.of(tx.orderId).finish(tx.id);
  }

  async unfinishedCount(): Promise<number> {
    return sum(await Promise.all(this.stores.map((s) => s.unfinishedCount())));
  }

  async parkedCount(): Promise<number> {
    return sum(await Promise.all(this.stores.map((s) => s.parkedCount())));
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
