--[[
  abort: undo T's holds, if any, and leave a tombstone so a later reserve of T is refused.
  One step of lua/ledger/steps.lua (inlined there).

  tx       the transaction record's key
  entries  the entries T may hold, as given to reserve
  amounts  the amounts, as given to reserve
  ttl      TTL in seconds of the transaction record (and so of the tombstone)

  Returns a code, and true when the answer was read from another driver's write:
    0  aborted now (holds returned, or tombstone written where nothing was held),
       or already aborted (replay)
    1  T was committed: refused, nothing changes (never happens for an abort decision)
]]
local function abort(tx, entries, amounts, ttl)
  local state = tx_state(tx)
  if state == ABORTED then return 0, true end
  if state == COMMITTED then return 1 end

  if state == RESERVED then
    for i = 1, #entries do
      local want = amounts[i]
      if want ~= '0' and redis.call('EXISTS', entries[i]) == 1 then
        redis.call('HINCRBY', entries[i], 'a', want)
        redis.call('HINCRBY', entries[i], 'h', '-' .. want)
      end
    end
  end
  set_tx_state(tx, ABORTED, ttl)
  return 0
end
