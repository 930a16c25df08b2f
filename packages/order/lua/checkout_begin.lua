--[[
  checkout_begin: find or open the checkout transaction of an order.

  Opening a transaction snapshots the order (user, total, lines) into the transaction
  record and marks the order as being checked out, in one step: addItem is refused from
  here on, so the amount charged is always the total the order shows as paid. The lines
  (fields '#<item>' of the order, see add_item.lua) are copied as text, "<item> <qty>\n" each.
  The record keeps its start time (field s), and the order the ids of its last transactions
  (field h): the operator's inspector finds an order's checkouts from these, without a scan.

  KEYS[1]  the order
  KEYS[2]  the record of a new transaction, used only when none is active
  KEYS[3]  the set of unfinished transactions (sorted set, score = start time in ms)
  KEYS[4]  the snapshot freeze: while it exists, no new transaction opens (a snapshot is
           waiting for the unfinished ones to end; see launcher/src/snapshot/)
  ARGV[1]  the new transaction's id
  ARGV[2]  now, in ms (score in KEYS[3], field s of the record)
  ARGV[3]  the order id

  Returns:
    {'PAID'}                the order is paid: nothing to do
    {'NO_ORDER'}            the order does not exist
    {'EMPTY'}               the order has no items: refused, nothing opened
    {'FROZEN'}              a snapshot is being taken: nothing opened, ask again shortly
    {'TX', id, user, total, lines, decision, reason}
                            the active transaction (opened now, or already open: an
                            earlier or concurrent request for the same order), or the
                            one ARGV[1] names if it exists (a replay: maybe decided)
]]
-- @include "barrier"
-- One HGETALL reads the fixed fields and the lines ('#<item>') together.
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {'NO_ORDER'} end
local order, lines = {}, {}
for k = 1, #fields, 2 do
  local name = fields[k]
  if string.byte(name, 1) == 35 then -- '#': a line, turned into text only if a transaction opens
    lines[#lines + 1] = k
  else
    order[name] = fields[k + 1]
  end
end
if not order.u then return {'NO_ORDER'} end

-- A replay of a begin whose outcome the caller did not learn (failover, unconfirmed write):
-- the transaction it opened may since have been driven to its end by another driver
-- (recovery, a duplicate request). Answer with it, never with a fresh record under its id:
-- that would re-open a decided transaction and give the caller a second, different outcome.
local mine = redis.call('HMGET', KEYS[2], 'u', 'a', 'i', 'd', 'r')
if mine[1] then
  confirm_what_was_read()
  return {'TX', ARGV[1], mine[1], mine[2], mine[3], mine[4] or '', mine[5] or ''}
end

if order.p == '1' then return {'PAID'} end

-- The active record's key is derived, not declared: these Redis servers are never clustered.
local active = order.x
if active and active ~= '' then
  local tx = redis.call('HMGET', 'otx:' .. active, 'u', 'a', 'i', 'd', 'r')
  if tx[1] then
    confirm_what_was_read()
    return {'TX', active, tx[1], tx[2], tx[3], tx[4] or '', tx[5] or ''}
  end
  -- The record is gone (it expired long after an unfinished attempt): start afresh.
end
-- Field 'i': the lines of an order written by an earlier version, as text (kept, not migrated).
local legacy = order.i or ''
if #lines == 0 and legacy == '' then return {'EMPTY'} end

-- Only a new transaction waits for a snapshot: replays and the active one above go on, so
-- that the snapshot's wait for the unfinished set to empty can end.
if redis.call('EXISTS', KEYS[4]) == 1 then return {'FROZEN'} end

local rows = {legacy}
for n, k in ipairs(lines) do rows[n + 1] = string.sub(fields[k], 2) .. ' ' .. fields[k + 1] .. '\n' end
local text = table.concat(rows)
redis.call('HSET', KEYS[2], 'o', ARGV[3], 'u', order.u, 'a', order.t, 'i', text, 'd', '', 'r', '', 's', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
-- Space-separated ids, newest last, at most HISTORY: a client retrying a refused checkout
-- forever must not grow the order without bound.
local HISTORY = 10
local ids = {}
for id in string.gmatch(order.h or '', '%S+') do ids[#ids + 1] = id end
ids[#ids + 1] = ARGV[1]
redis.call('HSET', KEYS[1], 'x', ARGV[1], 'h', table.concat(ids, ' ', math.max(1, #ids - HISTORY + 1)))
return {'TX', ARGV[1], order.u, order.t, text, '', ''}
