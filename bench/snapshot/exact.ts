/**
 * Whether a snapshot the bench took is exact, from what it wrote: every file's checksum
 * against the manifest, and the cut against the data the bench loaded. The bench loads
 * course-shaped data (every item `stock` units, every user `credit`, every order two units
 * at price 1: scenarios.ts) and checks out fresh orders only, so at any consistent cut
 *
 *   stock taken (items x stock - what the stock copies hold)
 *     = credit taken (users x credit - what the payment copies hold)
 *     = 2 x the orders the order copies hold as paid.
 *
 * A checkout straddling the cut would show on one side and not the other. The snapshot's
 * own check (check.ts) has already refused any copy holding an unfinished checkout or a hold.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sha256, type Manifest } from '@shop/launcher/snapshot/take.js';

/** What the bench loaded before the window. */
export interface Loaded {
  items: number;
  stock: number;
  users: number;
  credit: number;
  /** Units of stock and of credit one paid order takes. */
  perOrder: number;
}

/** Each broken rule of the cut, as a line; empty when exact. */
export function cutProblems(m: Pick<Manifest, 'files' | 'orders'>, loaded: Loaded): string[] {
  const of = (service: string) => m.files.filter((f) => f.service === service);
  const sum = (service: string, k: 'entries' | 'available') => of(service).reduce((n, f) => n + (f.counts[k] ?? 0), 0);
  const out: string[] = [];
  if (sum('stock', 'entries') !== loaded.items) out.push(`${sum('stock', 'entries')} items in the stock copies, ${loaded.items} loaded`);
  if (sum('payment', 'entries') !== loaded.users) out.push(`${sum('payment', 'entries')} users in the payment copies, ${loaded.users} loaded`);
  const stockTaken = loaded.items * loaded.stock - sum('stock', 'available');
  const creditTaken = loaded.users * loaded.credit - sum('payment', 'available');
  const paidTakes = loaded.perOrder * m.orders.paid;
  if (stockTaken !== paidTakes) out.push(`stock taken ${stockTaken}, paid orders account for ${paidTakes}`);
  if (creditTaken !== paidTakes) out.push(`credit taken ${creditTaken}, paid orders account for ${paidTakes}`);
  return out;
}

/** Files missing or differing from the manifest's checksums. */
export function fileProblems(dir: string, m: Pick<Manifest, 'files'>): string[] {
  return m.files.flatMap((f) => {
    const file = path.join(dir, f.file);
    if (!fs.existsSync(file)) return [`${f.file} missing`];
    return sha256(fs.readFileSync(file)) === f.sha256 ? [] : [`${f.file}: checksum differs from the manifest`];
  });
}
