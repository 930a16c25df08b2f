-- The one script a participant of the ceiling skeleton runs per request (bench/README.md,
-- "(d) ceiling"): take ARGV[1] from the balance at KEYS[2] for the transaction whose marker
-- is KEYS[1], at most once. A replay answers what the first run decided, so a caller may
-- resend after an unknown outcome; a refusal is recorded too, so a replay cannot turn it
-- into a take once the balance has grown.
--
-- KEYS[1] marker of the transaction at this participant, KEYS[2] the balance.
-- ARGV[1] amount, ARGV[2] opening balance of a balance never written (the skeleton loads no
-- data: batch_init is not what it measures).
-- Returns 1 (taken) or 0 (refused).
local done = redis.call('GET', KEYS[1])
if done then return tonumber(done) end
local want = tonumber(ARGV[1])
local have = tonumber(redis.call('GET', KEYS[2]) or ARGV[2])
if have < want then
  redis.call('SET', KEYS[1], 0)
  return 0
end
redis.call('SET', KEYS[2], have - want)
redis.call('SET', KEYS[1], 1)
return 1
