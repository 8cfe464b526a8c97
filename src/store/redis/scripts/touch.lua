--[[ touch.lua (after marks.lua): re-asserts one event's processed mark.
  KEYS:   marks.lua's for one event, without the failure counter
  ARGV:   marks.lua's for one event
  Reply:  the mark (first seen), nil when there is none, or marks.lua's {'?…', …}

  The same value in the same hash, whose expiry HSET leaves alone, so that the connection running it has
  written the mark: WAIT counts the replicas holding *this connection's* writes, and the mark may have been
  written by another connection or receiver. A replica applies the stream in order, so it has the original
  write (and the `:ttls` entry written with it) before this one.
]]
local loc = read_location(false)
local hash, mark, missing = find_mark(loc)
if missing then return missing end
if mark then redis.call('HSET', hash, loc.field, mark) end
return mark
