--[[ inspect.lua (after marks.lua): the admin view of one location. Reads only.
  KEYS:   marks.lua's for one event, without the failure counter
  ARGV:   marks.lua's for one event
  Reply:  {'~owner', lease left}, {first seen, its bucket hash's TTL left}, nil, or marks.lua's {'?…', …}
]]
return held(read_location(false))
