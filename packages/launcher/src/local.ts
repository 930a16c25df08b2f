/** Topology options for running on this machine: the bits that are facts about the host. */
import type { ServiceName } from '@shop/common/config.js';
import type { ServiceEntry } from './entry.js';
import type { Secrets } from './secrets.js';
import { buildTopology, type Binaries, type Layout, type Topology } from './topology.js';

export interface LocalTopologyInput {
  layout: Layout;
  replicas: number;
  /** Redis groups per service; default 1. */
  shards?: number;
  gatewayPort: number;
  basePort: number;
  dataDir: string;
  secrets: Secrets;
  binaries: Binaries;
  /** Undefined when only storage and gateway are wanted (services absent). */
  serviceEntry: ServiceEntry | undefined;
  repoRoot: string;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  faultProxy?: boolean;
}

export function localTopology(i: LocalTopologyInput): Topology {
  return buildTopology({
    layout: i.layout,
    target: 'local',
    replicas: i.replicas,
    ...(i.shards !== undefined ? { shards: i.shards } : {}),
    gatewayHost: '127.0.0.1',
    gatewayPort: i.gatewayPort,
    basePort: i.basePort,
    dataDir: i.dataDir,
    password: i.secrets.password,
    internalSecret: i.secrets.internalSecret,
    serviceEntryDir: i.serviceEntry?.dir ?? `${i.repoRoot}/packages`,
    serviceEntryExt: i.serviceEntry?.ext ?? 'js',
    serviceCwd: i.repoRoot,
    binaries: i.binaries,
    runAsRoot: process.getuid?.() === 0,
    ...(i.serviceEnv !== undefined ? { serviceEnv: i.serviceEnv } : {}),
    ...(i.faultProxy === true ? { faultProxy: true } : {}),
  });
}
