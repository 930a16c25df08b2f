/**
 * A participant of the ceiling skeleton, standing in for the stock or the payment service
 * (bench/README.md, "(d) ceiling"). POST /take/<tx>/<account>/<amount> runs take.lua once on
 * its Redis group and answers once the write is on CEILING_ACKS replicas: 200 taken, 409
 * refused, 503 when the outcome is unknown. CEILING_ROLE (stock or payment) prefixes its keys.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '@shop/launcher/entry.js';
import { durableRedis, env, serve } from './shared.js';

const role = env('CEILING_ROLE');
/** Large enough that no run of the bench runs a balance dry: (b) refuses nothing either. */
const OPENING_BALANCE = 1_000_000_000;
const { redis, log, ready } = durableRedis();
redis.defineCommand('take', { numberOfKeys: 2, lua: fs.readFileSync(path.join(repoRoot(), 'bench', 'ceiling', 'take.lua'), 'utf8') });
const take = (p: object, keys: string[], args: (string | number)[]): void =>
  void (p as { take: (...a: (string | number)[]) => unknown }).take(...keys, ...args);

const ROUTE = /^\/take\/([0-9A-Za-z_-]+)\/([0-9A-Za-z:_-]+)\/([0-9]+)$/;

serve(Number(env('CEILING_PORT')), ready, async (method, url) => {
  const m = ROUTE.exec(url);
  if (method !== 'POST' || m === null) return { status: 404, body: 'no such route' };
  const [, tx, account, amount] = m;
  const taken = await log.write((p) => take(p, [`ceiling:${role}:tx:${tx}`, `ceiling:${role}:${account}`], [amount!, OPENING_BALANCE]));
  return Number(taken) === 1 ? { status: 200, body: '1' } : { status: 409, body: '0' };
});
