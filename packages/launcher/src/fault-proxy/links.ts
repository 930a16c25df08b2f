/**
 * Which links of a cluster go through the fault proxy, their names, and the ports they take.
 *
 *   redis-peer:<node>            replicas -> that node (when it is their primary) and every
 *                                Sentinel -> that node. The node announces this link's port
 *                                (`replica-announce-port`) and the Sentinels monitor it, so the
 *                                whole Redis side of a group names nodes by their peer links.
 *   svc:<replica>-><node>        one service replica -> one Redis node of its group
 *   svc:<replica>-><sentinel>    one service replica -> one Sentinel
 *   call:<order replica>-><participant replica>   internal calls of the coordinator
 *
 * A service replica maps each node's announced address to its own link to that node
 * (REDIS_NAT_MAP), so cutting `redis-peer:X` isolates X from its replicas and the Sentinels
 * while every service still reaches it: the split brain of Redis replication.
 *
 * Names are plain strings a test can compute from process names (the helpers below).
 */

export const peerLink = (node: string): string => `redis-peer:${node}`;
export const serviceLink = (replica: string, target: string): string => `svc:${replica}->${target}`;
export const callLink = (orderReplica: string, participantReplica: string): string => `call:${orderReplica}->${participantReplica}`;

/**
 * Offsets of a topology's port block (of `blockSize`) that none of its processes takes
 * (`taken`; topology.ts lists the plan), in ascending order: the gaps below the first public
 * port first, then the public and internal offsets of replicas not configured. Ascending, so
 * a topology whose links fitted below 100 before shards and the upper gaps were used keeps
 * the same ports.
 */
export function proxyPortOffsets(taken: readonly number[], blockSize: number): number[] {
  const used = new Set(taken);
  const out: number[] = [];
  for (let o = 0; o < blockSize; o++) if (!used.has(o)) out.push(o);
  return out;
}
