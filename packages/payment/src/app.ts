import { randomUUID } from 'node:crypto';
import { ShopError } from '@shop/common/errors.js';
import { route } from '@shop/common/http.js';
import { PARTICIPANT_REFUSALS } from '@shop/common/ledger/protocol.js';
import { registerAdjustRoutes, registerLedgerSteps } from '@shop/common/ledger/routes.js';
import { ShardedLedger } from '@shop/common/ledger/sharded.js';
import { LedgerStore, numberedEntries } from '@shop/common/ledger/store.js';
import { PAYMENT_TX_PREFIX, USER_PREFIX } from './keys.js';
import type { ServiceModule } from '@shop/common/service.js';
import { parseAmount, parseBatchSize, parseId } from '@shop/common/validate.js';

type P = Record<string, string>;
const CODES = PARTICIPANT_REFUSALS.payment;

/** Users are ledger entries (key schema in keys.ts). */
export const paymentService: ServiceModule = ({ apps, shards, metrics }) => {
  const store = ShardedLedger.over(shards.map((s) => new LedgerStore(s.redis, s.writer, USER_PREFIX, PAYMENT_TX_PREFIX)));
  const app = apps.public;

  route(app, 'POST', '/create_user', async () => {
    const userId = randomUUID();
    await store.put([[userId, 0]]);
    return { user_id: userId };
  });

  route(app, 'GET', '/find_user/:user_id', async (req) => {
    const id = parseId((req.params as P).user_id);
    const user = await store.get(id);
    if (user === undefined) throw new ShopError('UNKNOWN_USER');
    return { user_id: id, credit: user.available };
  });

  registerAdjustRoutes(app, store, CODES, { paths: [['/add_funds', '+'], ['/pay', '-']], idKey: 'user_id', amountKey: 'credit' });

  route(app, 'POST', '/batch_init/:n/:starting_money', async (req) => {
    const params = req.params as P;
    const n = parseBatchSize(params.n);
    const money = parseAmount(params.starting_money);
    await store.put(numberedEntries(n, money));
    return { msg: `batch_init: ${n} users with credit ${money}` };
  });

  registerLedgerSteps(apps, store, metrics.observeBatch);
  return {};
};
