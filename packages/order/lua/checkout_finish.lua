--[[
  checkout_finish: retire a decided transaction whose participants have applied the decision,
  or one whose record is gone (recovery found nothing to drive).

  KEYS[1]  the transaction record
  KEYS[2]  the set of unfinished transactions
  KEYS[3]  the set of parked transactions (see checkout_defer.lua)
  ARGV[1]  the transaction's id
  ARGV[2]  TTL in seconds of the record from now on (kept so late retries still find it)

  Returns:
    1  retired now or before, or it has no record (dropped from the sets)
    0  the transaction is not decided: nothing changes
]]
local decision = redis.call('HGET', KEYS[1], 'd')
if decision and decision ~= 'commit' and decision ~= 'abort' then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
if decision then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
