import { randomUUID } from 'node:crypto';
import { ShopError } from '@shop/common/errors.js';
import { route } from '@shop/common/http.js';
import { PARTICIPANT_REFUSALS } from '@shop/common/ledger/protocol.js';
import { registerAdjustRoutes, registerLedgerSteps } from '@shop/common/ledger/routes.js';
import { ShardedLedger } from '@shop/common/ledger/sharded.js';
import { LedgerStore, numberedEntries } from '@shop/common/ledger/store.js';
import { ITEM_PREFIX, STOCK_TX_PREFIX } from './keys.js';
import type { ServiceModule } from '@shop/common/service.js';
import { parseAmount, parseBatchSize, parseId } from '@shop/common/validate.js';

type P = Record<string, string>;
const CODES = PARTICIPANT_REFUSALS.stock;

/** Items are ledger entries (key schema in keys.ts). */
export const stockService: ServiceModule = ({ apps, shards, metrics }) => {
  const store = ShardedLedger.over(shards.map((s) => new LedgerStore(s.redis, s.writer, ITEM_PREFIX, STOCK_TX_PREFIX)));
  const app = apps.public;

  route(app, 'POST', '/item/create/:price', async (req) => {
    const price = parseAmount((req.params as P).price);
    const itemId = randomUUID();
    await store.put([[itemId, 0]], { p: price });
    return { item_id: itemId };
  });

  const find = async (rawId: string | undefined) => {
    const id = parseId(rawId);
    const item = await store.get(id, ['p']);
    if (item === undefined) throw new ShopError('UNKNOWN_ITEM');
    return { stock: item.available, price: Number(item.fields[0]) };
  };
  route(app, 'GET', '/find/:item_id', async (req) => find((req.params as P).item_id));

  registerAdjustRoutes(app, store, CODES, { paths: [['/add', '+'], ['/subtract', '-']], idKey: 'item_id', amountKey: 'stock' });

  route(app, 'POST', '/batch_init/:n/:starting_stock/:item_price', async (req) => {
    const params = req.params as P;
    const n = parseBatchSize(params.n);
    const stock = parseAmount(params.starting_stock);
    const price = parseAmount(params.item_price);
    await store.put(numberedEntries(n, stock), { p: price });
    return { msg: `batch_init: ${n} items with stock ${stock} and price ${price}` };
  });

  registerLedgerSteps(apps, store, metrics.observeBatch);
  // The order service reads prices here (addItem), never through the gateway.
  route(apps.internal, 'GET', '/items/:item_id', async (req) => find((req.params as P).item_id));
  return {};
};
