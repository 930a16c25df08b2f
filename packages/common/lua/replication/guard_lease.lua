--[[
  guard_lease: take or renew the right to change a group's promotable set.

  Only one replica guard per group may change the set and the replicas' priorities at a
  time, or one could raise a replica another is lowering. The lease lives in the group's
  own data, so it moves with the primary on a failover and lapses when its holder dies.

  KEYS[1]  the lease (string: holder id)
  ARGV[1]  the caller's id
  ARGV[2]  lease length in milliseconds

  Returns:
    1  the caller holds the lease now (taken or renewed)
    0  another holds it
]]
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
