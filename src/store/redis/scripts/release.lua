--[[ release.lua: drops a claim its owner gives up, and counts the failure towards MAX_ATTEMPTS.
  KEYS:   claim, its failure counter
  ARGV:   owner token (`~…`), failure counter TTL ms (0: failures are not counted)
  Reply:  1 released, 0 the claim is not this owner's
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
