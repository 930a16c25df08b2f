--[[
  abort: undo T's holds, if any, and leave a tombstone so a later reserve of T is refused.

  KEYS[1]      the transaction record
  KEYS[2..n+1] the entries T may hold, as given to reserve
  ARGV[1]      TTL in seconds of the transaction record (and so of the tombstone)
  ARGV[2..n+1] the amounts, as given to reserve

  Returns:
    0  aborted now (holds returned, or tombstone written where nothing was held),
       or already aborted (replay)
    1  T was committed: refused, nothing changes (never happens for an abort decision)
]]
-- @include "constants"
-- @include "barrier"
-- @include "tx_record"
local state = tx_state(KEYS[1])
if state == ABORTED then
  confirm_what_was_read()
  return 0
end
if state == COMMITTED then return 1 end

if state == RESERVED then
  for i = 1, #KEYS - 1 do
    local want = ARGV[i + 1]
    if want ~= '0' and redis.call('EXISTS', KEYS[i + 1]) == 1 then
      redis.call('HINCRBY', KEYS[i + 1], 'a', want)
      redis.call('HINCRBY', KEYS[i + 1], 'h', '-' .. want)
    end
  end
end
set_tx_state(KEYS[1], ABORTED, ARGV[1])
return 0
