--[[
  add_item: append a line to an order that is neither paid nor being checked out.

  KEYS[1]  the order (hash: u user, t total_cost, i lines, p paid '0'|'1', x active transaction or '')
  ARGV[1]  item id (validated: no spaces or newlines)
  ARGV[2]  quantity (positive integer string)
  ARGV[3]  cost of the line, quantity x the item's price (integer string, at most 2^53 - 1)

  Lines are kept as text, "<item> <quantity>\n" each, so no number ever passes through
  a float formatter.

  Returns {code, total}:
    {0, t}  appended; t is the new total_cost
    {1, 0}  the order does not exist
    {2, 0}  the order is paid
    {3, 0}  the order is being checked out
    {4, 0}  the new total would pass 2^53 - 1
]]
-- @include "constants"
local order = redis.call('HMGET', KEYS[1], 't', 'p', 'x')
if not order[1] then return {1, 0} end
if order[2] == '1' then return {2, 0} end
if order[3] and order[3] ~= '' then return {3, 0} end
if tonumber(order[1]) + tonumber(ARGV[3]) > MAX_SAFE then return {4, 0} end

local lines = redis.call('HGET', KEYS[1], 'i') or ''
redis.call('HSET', KEYS[1], 'i', lines .. ARGV[1] .. ' ' .. ARGV[2] .. '\n')
return {0, redis.call('HINCRBY', KEYS[1], 't', ARGV[3])}
