/** Topologies and snapshots for the unit tests: fixed, fake paths, nothing started. */
import fs from 'node:fs';
import path from 'node:path';
import { MANIFEST, SNAPSHOT_FORMAT, sha256, type Manifest } from '../src/snapshot/take.js';
import { DEFAULT_OPTIONS, buildTopology, groupsOf, redisGroup, type Layout, type Topology, type TopologyOptions } from '../src/topology.js';

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

/** A complete snapshot of the topology's groups with made-up copies (their bytes are never parsed here). */
export function writeSnapshot(dir: string, t: Topology): Manifest {
  fs.mkdirSync(dir, { recursive: true });
  const files = groupsOf(t).map((group) => {
    const first = redisGroup(t, group)[0]!;
    const data = Buffer.from(`REDIS0010 copy of ${group}`);
    fs.writeFileSync(path.join(dir, `${group}.rdb`), data);
    return { group, service: first.service, shard: first.shard, file: `${group}.rdb`, bytes: data.length, sha256: sha256(data), from: 'x:1', counts: { keys: 1 } };
  });
  const manifest: Manifest = {
    format: SNAPSHOT_FORMAT,
    takenAt: new Date().toISOString(),
    layout: t.layout,
    shards: t.shards,
    pauseMs: 1,
    drainMs: 0,
    tookMs: 2,
    files,
    orders: { total: 0, paid: 0, transactions: 0, committed: 0, aborted: 0 },
  };
  fs.writeFileSync(path.join(dir, MANIFEST), JSON.stringify(manifest));
  return manifest;
}
