--[[
  checkout_decide: record the outcome of a checkout transaction, once.

  The first decision recorded wins; every later caller (a concurrent driver, a retry,
  recovery) gets that decision back and must follow it. A commit marks the order paid
  in the same step. A commit is turned into an abort when the order no longer points at
  this transaction (batch_init re-created it meanwhile): an old attempt never pays a new order.

  KEYS[1]  the transaction record
  KEYS[2]  the order
  ARGV[1]  'commit' or 'abort'
  ARGV[2]  reason code of an abort (error code answered to the client), '' for commit
  ARGV[3]  the transaction's id
  ARGV[4]  now, in ms (field t of the record: when it was decided, for the inspector)

  Returns {decision, reason}, the decision in force after this call:
    {'commit', ''}      commit (recorded now or before)
    {'abort', reason}   abort (recorded now or before), with the first decider's reason
    {'', 'NO_TX'}       the transaction record does not exist
]]
-- @include "barrier"
local tx = redis.call('HMGET', KEYS[1], 'd', 'r')
if not tx[1] then return {'', 'NO_TX'} end
if tx[1] ~= '' then
  confirm_what_was_read()
  return {tx[1], tx[2] or ''}
end

local owns = redis.call('HGET', KEYS[2], 'x') == ARGV[3]
local decision, reason = ARGV[1], ARGV[2]
if decision == 'commit' and not owns then decision, reason = 'abort', 'ORDER_REPLACED' end

redis.call('HSET', KEYS[1], 'd', decision, 'r', reason, 't', ARGV[4])
if owns then
  if decision == 'commit' then
    redis.call('HSET', KEYS[2], 'p', '1', 'x', '')
  else
    redis.call('HSET', KEYS[2], 'x', '')
  end
end
return {decision, reason}
