--[[
  checkout_defer: put off the recovery of an unfinished transaction whose last attempt
  failed, and park it once it has failed often.

  Recovery takes the oldest stale transactions first (by score in the unfinished set). A
  transaction that keeps failing would otherwise stay the oldest and be taken first on every
  pass, ahead of newer ones that could be finished: pushing its score forward lets every
  other transaction have its turn. The delay doubles with each failure up to a bound, so a
  transaction that can never be finished (parked) is still tried again, rarely.

  KEYS[1]  the set of unfinished transactions (sorted set, score = when recovery may take it)
  KEYS[2]  the transaction record (field f counts failed recovery attempts)
  KEYS[3]  the set of parked transactions (failed at least ARGV[5] times)
  ARGV[1]  the transaction's id
  ARGV[2]  the score at which recovery would take it now (now - stale age, in ms)
  ARGV[3]  first delay in ms
  ARGV[4]  longest delay in ms
  ARGV[5]  failures after which the transaction counts as parked

  Returns the number of failed attempts so far, or 0 when the transaction is finished
  or has no record (nothing changes).
]]
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local failures = redis.call('HINCRBY', KEYS[2], 'f', 1)
local delay = math.min(tonumber(ARGV[3]) * 2 ^ (failures - 1), tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[2]) + math.floor(delay), ARGV[1])
if failures >= tonumber(ARGV[5]) then redis.call('SADD', KEYS[3], ARGV[1]) end
return failures
