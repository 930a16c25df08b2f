--[[
  reserve: hold amounts of one or more ledger entries for checkout transaction T.

  A ledger entry is a hash with field `a` (available) and `h` (held by undecided
  transactions). Stock items and user credit are both ledgers.

  KEYS[1]      the transaction record (its state, a string: lua/includes/tx_record.lua)
  KEYS[2..n+1] the entries, distinct
  ARGV[1]      TTL in seconds of the transaction record
  ARGV[2..n+1] amount to hold from each entry (non-negative integer strings)

  Returns {code, index}:
    {0, 0}  held now, or already held/committed for T (a replay changes nothing)
    {1, 0}  T was aborted before: refused, so a late or re-sent step cannot apply
    {2, i}  entry i (1-based) does not exist
    {3, i}  entry i lacks the amount even if every undecided hold were released
    {4, i}  entry i lacks the amount only because of undecided holds: try again later
  Every check runs before the first write, so a refusal changes nothing.
]]
-- @include "constants"
-- @include "barrier"
-- @include "tx_record"
local state = tx_state(KEYS[1])
if state == RESERVED or state == COMMITTED then
  confirm_what_was_read()
  return {0, 0}
end
if state == ABORTED then return {1, 0} end

local n = #KEYS - 1
local busy = 0
for i = 1, n do
  local entry = redis.call('HMGET', KEYS[i + 1], 'a', 'h')
  if not entry[1] then return {2, i} end
  local available, held, want = tonumber(entry[1]), tonumber(entry[2] or '0'), tonumber(ARGV[i + 1])
  if available < want then
    if available + held < want then return {3, i} end
    if busy == 0 then busy = i end
  end
end
if busy > 0 then return {4, busy} end

for i = 1, n do
  local want = ARGV[i + 1]
  if want ~= '0' then
    redis.call('HINCRBY', KEYS[i + 1], 'a', '-' .. want)
    redis.call('HINCRBY', KEYS[i + 1], 'h', want)
  end
end
set_tx_state(KEYS[1], RESERVED, ARGV[1])
return {0, 0}
