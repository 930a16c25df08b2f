--[[
  add_item: add a quantity of an item to an order that is neither paid nor being checked out.

  An order keeps one line per item: a field '#<item>' holding its quantity, so adding to an
  order is a few O(1) field writes whatever its size (a text list rewritten on every call
  made 3,000 calls write ~1 GB to replicas and AOFs). Adding an item already in the order
  merges into its line.

  KEYS[1]  the order (hash: u user, t total_cost, p paid '0'|'1', x active transaction or '',
           n number of lines, '#<item>' quantity of each line)
  ARGV[1]  item id (validated: [A-Za-z0-9_-])
  ARGV[2]  quantity (positive integer string)
  ARGV[3]  cost of the quantity, quantity x the item's price (integer string, at most 2^53 - 1)
  ARGV[4]  most lines an order may have

  Returns {code, total}:
    {0, t}  added; t is the new total_cost
    {1, 0}  the order does not exist
    {2, 0}  the order is paid
    {3, 0}  the order is being checked out
    {4, 0}  the item's merged quantity or the new total would pass 2^53 - 1
    {5, 0}  the item would be a new line of an order that has the most lines already
  Every check runs before the first write, so a refusal changes nothing.
]]
-- @include "constants"
local order = redis.call('HMGET', KEYS[1], 't', 'p', 'x', 'n')
if not order[1] then return {1, 0} end
if order[2] == '1' then return {2, 0} end
if order[3] and order[3] ~= '' then return {3, 0} end
if tonumber(order[1]) + tonumber(ARGV[3]) > MAX_SAFE then return {4, 0} end

local line = '#' .. ARGV[1]
local quantity = redis.call('HGET', KEYS[1], line)
if quantity then
  if tonumber(quantity) + tonumber(ARGV[2]) > MAX_SAFE then return {4, 0} end
elseif tonumber(order[4] or '0') >= tonumber(ARGV[4]) then
  return {5, 0}
end

redis.call('HINCRBY', KEYS[1], line, ARGV[2])
if not quantity then redis.call('HINCRBY', KEYS[1], 'n', 1) end
return {0, redis.call('HINCRBY', KEYS[1], 't', ARGV[3])}
