--[[
  adjust: add to or subtract from one entry's available amount (public add/subtract,
  add_funds/pay). Not part of a checkout, and not idempotent: the caller never replays it.

  KEYS[1]  the entry
  ARGV[1]  '+' to add, '-' to subtract
  ARGV[2]  the amount (non-negative integer string)

  Returns {code, available}:
    {0, a}  done; a is the new available amount
    {1, 0}  the entry does not exist
    {2, a}  subtracting would go below 0 even if every undecided hold were released
    {3, a}  subtracting would go below 0 only because of undecided holds: try again later
    {4, a}  adding would pass 2^53 - 1
  An amount of 0 is a no-op: {0, a} with nothing written (HINCRBY would refuse "-0").
]]
-- @include "constants"
local entry = redis.call('HMGET', KEYS[1], 'a', 'h')
if not entry[1] then return {1, 0} end
local available, held, amount = tonumber(entry[1]), tonumber(entry[2] or '0'), tonumber(ARGV[2])
if amount == 0 then return {0, available} end
if ARGV[1] == '+' then
  if available + held + amount > MAX_SAFE then return {4, available} end
  return {0, redis.call('HINCRBY', KEYS[1], 'a', ARGV[2])}
end
if available < amount then
  if available + held < amount then return {2, available} end
  return {3, available}
end
return {0, redis.call('HINCRBY', KEYS[1], 'a', '-' .. ARGV[2])}
