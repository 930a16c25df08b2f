/**
 * The scheduler's calendar: the period of `--every`, the slots it falls on, and the name of
 * each scheduled snapshot's directory, its UTC start time. Names sort as times do, so the
 * newest snapshot is the last name.
 */

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90` or `90s`, `15m`, `1h`, `1d` in ms; undefined for anything else or under a second. */
export function parsePeriod(text: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (m === null) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] || 's']!;
  return ms >= 1_000 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** A snapshot directory's name: `2026-12-01T10-15-00Z`, ISO 8601 in UTC with `-` for `:` (a colon is awkward in scp and Windows). */
export function stampOf(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** Whether a name is one stampOf makes. */
export function isStamp(name: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/.test(name);
}

/**
 * The first slot (start + k·period) after `now`. A snapshot that overran its period moves the
 * next one to the following slot: missed slots are skipped, never caught up in a burst.
 */
export function nextSlot(start: number, periodMs: number, now: number): number {
  return start + (Math.floor((now - start) / periodMs) + 1) * periodMs;
}
