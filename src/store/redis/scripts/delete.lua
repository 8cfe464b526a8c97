--[[ delete.lua (after marks.lua): forgets one location: its claim, its failure count and its mark, in
  whichever bucket.
  KEYS:   marks.lua's for one event, with the failure counter
  ARGV:   marks.lua's for one event
  Reply:  what it held (as inspect.lua), or marks.lua's {'?…', …} (then nothing is deleted)
]]
local loc = read_location(true)
local state = held(loc)
local hash, mark, missing = find_mark(loc)
if missing then return missing end
while mark do
  redis.call('HDEL', hash, loc.field)
  hash, mark = find_mark(loc)
end
redis.call('DEL', loc.claim, loc.failures)
return state
