--[[
  reserve: hold amounts of one or more ledger entries for checkout transaction T.
  One step of lua/ledger/steps.lua (inlined there).

  A ledger entry is a hash with field `a` (available) and `h` (held by undecided
  transactions). Stock items and user credit are both ledgers.

  tx       the transaction record's key (its state, a string: includes/tx_record.lua)
  entries  the entries' keys, distinct
  amounts  amount to hold from each entry (non-negative integer strings)
  ttl      TTL in seconds of the transaction record

  Returns {code, index}, and true when the answer was read from another driver's write:
    {0, 0}  held now, or already held/committed for T (a replay changes nothing)
    {1, 0}  T was aborted before: refused, so a late or re-sent step cannot apply
    {2, i}  entry i (1-based) does not exist
    {3, i}  entry i lacks the amount even if every undecided hold were released
    {4, i}  entry i lacks the amount only because of undecided holds: try again later
  Every check runs before the first write, so a refusal changes nothing.
]]
local function reserve(tx, entries, amounts, ttl)
  local state = tx_state(tx)
  if state == RESERVED or state == COMMITTED then return {0, 0}, true end
  if state == ABORTED then return {1, 0} end

  local busy = 0
  for i = 1, #entries do
    local entry = redis.call('HMGET', entries[i], 'a', 'h')
    if not entry[1] then return {2, i} end
    local available, held, want = tonumber(entry[1]), tonumber(entry[2] or '0'), tonumber(amounts[i])
    if available < want then
      if available + held < want then return {3, i} end
      if busy == 0 then busy = i end
    end
  end
  if busy > 0 then return {4, busy} end

  for i = 1, #entries do
    local want = amounts[i]
    if want ~= '0' then
      redis.call('HINCRBY', entries[i], 'a', '-' .. want)
      redis.call('HINCRBY', entries[i], 'h', want)
    end
  end
  set_tx_state(tx, RESERVED, ttl)
  return {0, 0}
end
