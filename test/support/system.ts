/** A whole system for an end-to-end test file: a cluster on free ports and a client of its gateway. */
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { ShopClient } from '@shop/launcher/api.js';

export interface System {
  cluster: Cluster;
  api: ShopClient;
  stop(): Promise<void>;
}

/**
 * The default topology (replicated Redis, every write acknowledged by the replicas), as
 * shipped; SHOP_TEST_LAYOUT=single runs the same checks faster while developing (unsharded
 * only: a shard is a Sentinel group).
 */
export async function startSystem(connections = 128, shards = 1): Promise<System> {
  const layout = process.env.SHOP_TEST_LAYOUT === 'single' && shards === 1 ? 'single' : 'ha';
  const cluster = await startCluster({ layout, replicas: 2, shards });
  const api = new ShopClient(cluster.gatewayUrl, connections);
  return {
    cluster,
    api,
    stop: async () => {
      await api.close();
      await cluster.stop();
    },
  };
}
