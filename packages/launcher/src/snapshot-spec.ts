/**
 * The consistent-snapshot tool in docker-compose, under the compose profile `tools` so that
 * `up` never starts it:
 *
 *   - `snapshot`, a one-off: `docker-compose run --rm snapshot` writes a dated directory into
 *     the `snapshots` volume (`run --rm snapshot /snapshots/NAME` names it instead);
 *   - `snapshot-scheduler`: one every hour, the newest 24 complete ones kept.
 *
 * Both run the tools image (deploy/Dockerfile, target `tools`) and reach the shop through its
 * Sentinels on the internal `data` network, with the variant's shard count and the password
 * from REDIS_PASSWORD, as the services do.
 */
import type { Topology } from './topology.js';

export const TOOLS_IMAGE = 'shop-tools:latest';
/** The tools image's ENTRYPOINT (deploy/Dockerfile), which compose extends with the shop's address. */
export const SNAPSHOT_ENTRY = ['node', 'packages/launcher/dist/src/snapshot/main.js'];
export const SNAPSHOT_VOLUMES = { snapshots: {} };
const MOUNT = '/snapshots';

export function snapshotServices(t: Topology, passwordRef: string): Record<string, unknown> {
  const sentinels = t.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  // A fresh object per service: a shared one would come out as YAML anchors and aliases.
  const tool = (): Record<string, unknown> => ({
    build: { context: '..', dockerfile: 'deploy/Dockerfile', target: 'tools' },
    image: TOOLS_IMAGE,
    // In the entrypoint, so that `run --rm snapshot <dir> [options]` keeps the shop's address.
    entrypoint: [...SNAPSHOT_ENTRY, '--sentinels', sentinels, '--shards', String(t.shards)],
    environment: { REDIS_PASSWORD: passwordRef },
    volumes: [`snapshots:${MOUNT}`],
    networks: ['data'],
    profiles: ['tools'],
  });
  return {
    snapshot: { ...tool(), command: [MOUNT, '--stamp'] },
    'snapshot-scheduler': { ...tool(), command: [MOUNT, '--every', '1h', '--keep', '24'], restart: 'unless-stopped' },
  };
}
