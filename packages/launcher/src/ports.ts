/** Finding a free block of ports for a cluster that must not collide with anything running. */
import { randomInt } from 'node:crypto';
import { portFree } from '@shop/common/probes.js';
import { listeningPorts, PORT_BLOCK, type Topology } from './topology.js';

/**
 * Bases of whole port blocks below the kernel's ephemeral range (32768+), so an outgoing
 * connection's local port never takes one of ours between the check and the bind.
 */
const FIRST_BASE = 20_000;
const BLOCKS = Math.floor((32_768 - FIRST_BASE) / PORT_BLOCK) - 1;
/** Offset of the gateway in a block: the unused gap between the Sentinels and the services. */
export const GATEWAY_OFFSET = 50;

/** Builds topologies on random bases until one has all its ports free. */
export async function withFreePorts(make: (basePort: number, gatewayPort: number) => Topology): Promise<Topology> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const base = FIRST_BASE + randomInt(0, BLOCKS) * PORT_BLOCK;
    const t = make(base, base + GATEWAY_OFFSET);
    let free = true;
    for (const p of listeningPorts(t)) {
      if (!(await portFree(p))) {
        free = false;
        break;
      }
    }
    if (free) return t;
  }
  throw new Error('found no free block of ports');
}
