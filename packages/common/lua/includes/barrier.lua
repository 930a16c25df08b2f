-- Shared by the scripts that may answer from state this call did not write (inlined).
-- WAIT confirms only up to the caller's own last write. An answer read from another
-- driver's write (a transaction it opened, a decision, hold, commit or abort it recorded:
-- the "already so" answers of replays) must not be
-- acted on before replicas have that write: a write of our own here makes the caller's
-- WAIT cover everything executed before it (DurableWriter in packages/common/src/redis.ts).
local function confirm_what_was_read()
  redis.call('INCR', 'replication:barrier')
end
