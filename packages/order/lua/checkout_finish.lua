--[[
  checkout_finish: retire decided transactions whose participants have applied the decision,
  or ones whose record is gone (recovery found nothing to drive). Many in one call: the
  commits of one event-loop turn retire together.

  KEYS[1]     the set of unfinished transactions
  KEYS[2]     the set of parked transactions (see checkout_defer.lua)
  KEYS[3..]   the transactions' records, one per id
  ARGV[1]     TTL in seconds of each record from now on (kept so late retries still find it)
  ARGV[2..]   the transactions' ids, in the order of their records

  Returns one code per transaction, in order:
    1  retired now or before, or it has no record (dropped from the sets)
    0  the transaction is not decided: nothing changes for it
]]
local codes = {}
local retired = {}
for i = 1, #KEYS - 2 do
  local record, id = KEYS[i + 2], ARGV[i + 1]
  local decision = redis.call('HGET', record, 'd')
  if decision and decision ~= 'commit' and decision ~= 'abort' then
    codes[i] = 0
  else
    codes[i] = 1
    retired[#retired + 1] = id
    if decision then redis.call('EXPIRE', record, ARGV[1]) end
  end
end
if #retired > 0 then
  redis.call('ZREM', KEYS[1], unpack(retired))
  redis.call('SREM', KEYS[2], unpack(retired))
end
return codes
