/** The short "what runs where" table printed after a start. */
import type { Topology } from './topology.js';
import type { ManagedProcess } from './supervisor.js';

export function startedTable(t: Topology, procs: ManagedProcess[]): string {
  const listen = new Map<string, string>();
  for (const n of t.redis) listen.set(n.name, `${n.host}:${n.port}`);
  for (const n of t.sentinels) listen.set(n.name, `${n.host}:${n.port}`);
  for (const n of t.services) listen.set(n.name, `public :${n.publicPort}  internal :${n.internalPort}`);
  listen.set(t.gateway.name, `${t.gateway.host}:${t.gateway.port}`);
  const rows = [['NAME', 'KIND', 'PID', 'LISTENS ON'], ...procs.map((p) => [p.name, p.kind, String(p.pid ?? '-'), listen.get(p.name) ?? ''])];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c] ?? 0) : cell)).join('  ')).join('\n');
}
