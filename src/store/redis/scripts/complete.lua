--[[ complete.lua (after marks.lua): records each event of a batch as processed.
  KEYS, per event:  marks.lua's, without the failure counter
  ARGV, per event:  marks.lua's, then owner token (`~…`), first seen (epoch ms), TTL in seconds
  Reply: one per event, in order: 1 (recorded, or already recorded with this first-seen time), 0 (another
         owner holds or recorded it), or marks.lua's {'?…', …} (nothing written).

  The holder's completion (the usual case) needs no lookup: nobody records a key that someone holds.
  Without a claim, a retried completion whose first reply was lost finds its own mark: a success too. And
  completing also records when the claim is gone and no mark exists: the lease ran out while the sink still
  succeeded, and nobody else has claimed it, so recording it now keeps a later delivery from running it again.
]]
local function complete(loc, owner, first_seen, ttl)
  local current = redis.call('GET', loc.claim)
  if current and current ~= owner then return 0 end
  if not current then
    local _, mark, missing = find_mark(loc)
    if missing then return missing end
    if mark then
      if mark == first_seen then return 1 end
      return 0
    end
  end
  local hash, expires, missing = write_target(loc, ttl)
  if missing then return missing end
  add_mark(loc, hash, expires, first_seen, ttl)
  if current then redis.call('DEL', loc.claim) end
  return 1
end

return each_event(false, 3, complete)
