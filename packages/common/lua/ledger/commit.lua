--[[
  commit: make T's holds final (they leave `h`; `a` already excludes them).

  KEYS[1]      the transaction record
  KEYS[2..n+1] the entries T holds, as given to reserve
  ARGV[1]      TTL in seconds of the transaction record
  ARGV[2..n+1] the amounts, as given to reserve

  Returns:
    0  committed now, or already committed (replay)
    1  T was aborted: refused (the coordinator decided abort; never happens for a commit decision)
    2  T holds nothing here: refused (reserve never applied; never happens for a commit decision)
]]
-- @include "constants"
-- @include "barrier"
-- @include "tx_record"
local state = tx_state(KEYS[1])
if state == COMMITTED then
  confirm_what_was_read()
  return 0
end
if state == ABORTED then return 1 end
if state ~= RESERVED then return 2 end

for i = 1, #KEYS - 1 do
  local want = ARGV[i + 1]
  if want ~= '0' then redis.call('HINCRBY', KEYS[i + 1], 'h', '-' .. want) end
end
set_tx_state(KEYS[1], COMMITTED, ARGV[1])
return 0
