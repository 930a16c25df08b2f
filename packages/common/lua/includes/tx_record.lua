-- A participant's record of checkout transaction T: a string holding its state (RESERVED,
-- COMMITTED or ABORTED), with a TTL. One SET writes state and TTL together (a hash needed
-- HSET + EXPIRE: two replicated commands at every step). Records written before this layout
-- are hashes with field `s`: still read, and replaced by a string at T's next step.
local function tx_state(key)
  local state = redis.pcall('GET', key)
  if type(state) == 'table' and state.err then return redis.call('HGET', key, 's') end
  return state
end

local function set_tx_state(key, state, ttl)
  redis.call('SET', key, state, 'EX', ttl)
end
