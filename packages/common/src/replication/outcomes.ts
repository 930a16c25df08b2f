/**
 * What the replica guard's scripts (lua/replication/*.lua) return, by name. Each table
 * mirrors the `Returns` block of its script's header (test/lua-headers.test.ts).
 */

/** guard_lease.lua */
export const GUARD_LEASE = { HELD: 1, NOT_HELD: 0 } as const;
/** guard_membership.lua */
export const GUARD_MEMBERSHIP = { CHANGED: 1, UNCHANGED: 0, NO_LEASE: -1 } as const;
