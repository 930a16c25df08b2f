/** Test helper: a group's primary, written to and SIGKILLed, and the failover that follows. */
import assert from 'node:assert/strict';
import { waitFor } from '@shop/common/probes.js';
import { redisCall } from '@shop/common/replication/one-shot.js';
import type { Cluster, RedisAddress } from '../src/cluster.js';

/**
 * Writes `key` = 'kept' on the group's primary (confirmed by both replicas), SIGKILLs it, and
 * waits until the Sentinels name another primary and the supervisor restarted the old one.
 */
export async function killPrimaryAfterWrite(cluster: Cluster, group: string, key: string, timeoutMs: number): Promise<{ old: RedisAddress; fresh: RedisAddress }> {
  const old = await cluster.currentPrimary(group);
  await redisCall(old, cluster.password, ['SET', key, 'kept']);
  // The write counts once both replicas have it (what the services wait for while both answer).
  assert.equal(Number(await redisCall(old, cluster.password, ['WAIT', 2, 1000])), 2);
  const proc = cluster.process(old.name);
  const startsBefore = proc.starts;
  proc.signal('SIGKILL');
  let fresh = old;
  await waitFor(
    `the Sentinels to elect a new ${group} primary`,
    async () => {
      fresh = await cluster.currentPrimary(group);
      return fresh.name !== old.name;
    },
    { timeoutMs, intervalMs: 200 },
  );
  await waitFor('the supervisor to restart the old primary', () => Promise.resolve(proc.starts > startsBefore && proc.pid !== undefined), { timeoutMs });
  return { old, fresh };
}
