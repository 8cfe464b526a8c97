--[[ append-once.lua (after marks.lua): the redis-stream sink (src/sinks/redis-stream.ts). For each event of
  a batch, the dedup check, the XADD and the processed mark in one atomic step: each key is appended once.
  KEYS, per event:  marks.lua's, without the failure counter; then the stream
  ARGV, per event:  marks.lua's; then TTL in seconds, first seen (epoch ms), MAXLEN, the number of the
                    entry's field/value pairs, and the pairs
  Reply: one per event, in order: the entry's id (appended), {'~owner', lease left} (a claim of the store's
         at this very location: only when the stream's tag is the digest's first two characters),
         {first seen, TTL left} (a duplicate), or marks.lua's {'?…', …} (nothing written).
]]
local function append(loc, stream, ttl, first_seen, max_length, entry)
  local state = held(loc)
  if state then return state end
  local hash, expires, missing = write_target(loc, ttl)
  if missing then return missing end
  local id = redis.call('XADD', stream, 'MAXLEN', '~', max_length, '*', unpack(entry))
  add_mark(loc, hash, expires, first_seen, ttl)
  return id
end

local replies = {}
while key_at <= #KEYS do
  local loc = read_location(false)
  local stream = next_key()
  local ttl = next_arg()
  local first_seen = next_arg()
  local max_length = next_arg()
  local entry = {}
  for i = 1, 2 * tonumber(next_arg()) do entry[i] = next_arg() end
  replies[#replies + 1] = append(loc, stream, ttl, first_seen, max_length, entry)
end
return replies
