--[[
  commit: make T's holds final (they leave `h`; `a` already excludes them).
  One step of lua/ledger/steps.lua (inlined there).

  tx       the transaction record's key
  entries  the entries T holds, as given to reserve
  amounts  the amounts, as given to reserve
  ttl      TTL in seconds of the transaction record

  Returns a code, and true when the answer was read from another driver's write:
    0  committed now, or already committed (replay)
    1  T was aborted: refused (the coordinator decided abort; never happens for a commit decision)
    2  T holds nothing here: refused (reserve never applied; never happens for a commit decision)
]]
local function commit(tx, entries, amounts, ttl)
  local state = tx_state(tx)
  if state == COMMITTED then return 0, true end
  if state == ABORTED then return 1 end
  if state ~= RESERVED then return 2 end

  for i = 1, #entries do
    local want = amounts[i]
    if want ~= '0' then redis.call('HINCRBY', entries[i], 'h', '-' .. want) end
  end
  set_tx_state(tx, COMMITTED, ttl)
  return 0
end
