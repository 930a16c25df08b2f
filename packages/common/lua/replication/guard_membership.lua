--[[
  guard_membership: add a server to the promotable set, or remove one, if the caller
  still holds the guard lease (a guard that lost it mid-step must not change the set).

  KEYS[1]  the lease (string: holder id)
  KEYS[2]  the promotable set (members are host:port)
  ARGV[1]  the caller's id
  ARGV[2]  'add' or 'remove'
  ARGV[3]  the member

  Returns:
    1   the set changed
    0   it already was so
    -1  the caller does not hold the lease: unchanged
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[2] == 'add' then return redis.call('SADD', KEYS[2], ARGV[3]) end
if ARGV[2] == 'remove' then return redis.call('SREM', KEYS[2], ARGV[3]) end
return redis.error_reply('guard_membership: op must be add or remove')
