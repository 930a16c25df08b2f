--[[
  steps: run a batch of checkout steps (reserve, commit, abort) of many transactions in
  one script call, in the order given. Each step follows its own contract
  (includes/step_reserve.lua, step_commit.lua, step_abort.lua); one call replaces one
  script call per step, so the batch costs one script run, one MULTI/EXEC in the
  replication stream and at most one barrier write.

  KEYS     per step, in order: the transaction record, then its n entries
  ARGV[1]  TTL in seconds of the transaction records
  ARGV[2..] per step, in order: the op ('r' reserve, 'c' commit, 'a' abort), n, then the
           n amounts

  Returns one {code, index} per step, in order:
    {c, i}   the step's own reply (a commit or abort answers {code, 0})
    {-1, e}  the step failed with error e (a wrong-type key, a database at its memory
             bound): only this step; the others ran as if it were not there
  When any answer was read from another driver's write, one barrier write ends the call.
]]
-- @include "constants"
-- @include "barrier"
-- @include "tx_record"
-- @include "step_reserve"
-- @include "step_commit"
-- @include "step_abort"
local RUN = { r = reserve, c = commit, a = abort }

local ttl = ARGV[1]
local replies = {}
local read_others = false
local k, a = 1, 2
while a <= #ARGV do
  local run, n = RUN[ARGV[a]], tonumber(ARGV[a + 1])
  local tx, entries, amounts = KEYS[k], {}, {}
  for i = 1, n do
    entries[i] = KEYS[k + i]
    amounts[i] = ARGV[a + 1 + i]
  end
  k, a = k + 1 + n, a + 2 + n
  local ok, reply, read = pcall(run, tx, entries, amounts, ttl)
  if not ok then
    replies[#replies + 1] = {-1, type(reply) == 'table' and reply.err or tostring(reply)}
  else
    if read then read_others = true end
    replies[#replies + 1] = type(reply) == 'table' and reply or {reply, 0}
  end
end
if read_others then confirm_what_was_read() end
return replies
