--[[ renew.lua: extends a claim's lease (a slow sink's heartbeat).
  KEYS:   claim
  ARGV:   owner token (`~…`), lease ms
  Reply:  1 renewed, 0 the claim is not this owner's
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
