--[[
  checkout_finish: retire a decided transaction whose participants have applied the decision.

  KEYS[1]  the transaction record
  KEYS[2]  the set of unfinished transactions
  KEYS[3]  the set of parked transactions (see checkout_defer.lua)
  ARGV[1]  the transaction's id
  ARGV[2]  TTL in seconds of the record from now on (kept so late retries still find it)

  Returns:
    1  retired now or before
    0  the transaction is not decided: nothing changes
]]
local decision = redis.call('HGET', KEYS[1], 'd')
if decision ~= 'commit' and decision ~= 'abort' then
  if not decision then
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('SREM', KEYS[3], ARGV[1])
    return 1
  end
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
