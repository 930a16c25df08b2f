/** Topologies for the unit tests: fixed, fake paths, nothing started. */
import { DEFAULT_OPTIONS, buildTopology, type Layout, type Topology, type TopologyOptions } from '../src/topology.js';

export function testOptions(over: Partial<TopologyOptions> = {}): TopologyOptions {
  return {
    ...DEFAULT_OPTIONS,
    dataDir: '/srv/shop-data',
    password: 'pw-123',
    internalSecret: 'secret-456',
    serviceEntryDir: '/app/packages',
    serviceEntryExt: 'js',
    serviceCwd: '/app',
    binaries: { redisServer: 'redis-server', redisSentinel: 'redis-sentinel', nginx: 'nginx', node: '/usr/bin/node' },
    runAsRoot: false,
    ...over,
  };
}

export function testTopology(layout: Layout = 'ha', over: Partial<TopologyOptions> = {}): Topology {
  return buildTopology(testOptions({ layout, ...over }));
}
