/**
 * The cut mark: a key every group's primary holds, with the snapshot's own token, from before
 * its SYNC until the thaw (take.ts). A copy holding it was forked inside the cut; a copy
 * without it was forked after the thaw (the fork came later than the sign the snapshot took
 * for it, e.g. another child's fork counted first), and may hold checkouts begun after the
 * cut: check.ts refuses it (a retryable error) and strips the mark from the copies it keeps.
 */
export const CUT_MARK_KEY = 'snapshot:cut';
