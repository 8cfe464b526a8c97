--[[ claim.lua (after marks.lua): claims each event of a batch unless it is processed, claimed or poison.
  KEYS, per event:  marks.lua's, with the failure counter (read_location(true))
  ARGV, per event:  marks.lua's, then owner token (`~…`), lease ms, MAX_ATTEMPTS (0: no limit)
  Reply: one per event, in order: 1 (claimed), {'~owner', lease left}, {first seen, TTL left},
         {'!', failures} (failed MAX_ATTEMPTS times: poison, never claimed again), or marks.lua's {'?…', …}.
]]
local function claim(loc, owner, lease, limit)
  local state = held(loc)
  if state then return state end
  if limit > 0 then
    local failures = tonumber(redis.call('GET', loc.failures) or '0')
    if failures >= limit then return {'!', failures} end
  end
  redis.call('SET', loc.claim, owner, 'PX', lease)
  return 1
end

return each_event(true, 3, function(loc, owner, lease, limit) return claim(loc, owner, lease, tonumber(limit)) end)
