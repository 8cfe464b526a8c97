--[[ marks.lua: the prelude of every script that reads or writes a processed mark; commands.ts puts it in
front of the script's own file when it loads them. The layout is described in layout.ts.

  A script handles one or more events (a batch), each one a location read by read_location():
  KEYS, per event:  the claim; the `:ttls` hash; the failure counter (only where read_location(true));
                    then, for each TTL passed, its bucket hashes, newest first
  ARGV, per event:  the mark's field; 1 when the buckets passed are for a lookup, 0 when they are only
                    the ones a write needs; how many TTLs are passed; for each: the TTL (seconds, as in
                    hash names), the newest bucket passed, how many buckets; then the script's own arguments

  Every key a script touches is in KEYS (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/#script-parameterization):
  the client names the bucket hashes from its own clock, with a margin, for every TTL it knows of
  (bucket-keys.ts). Which of them are live is still decided by Redis's clock (TIME), one clock for every
  receiver. When what was passed does not cover what TIME asks for, the event's reply says so and nothing
  of the event is written:
    {'?ttl', ttl, expiry}  `:ttls` lists a TTL the client did not pass (it learns it and sends again)
    {'?clock', now}        the client's clock is off Redis's by more than its margin (it corrects and resends)
    {'?lookup'}            a lookup is needed, and only a write's buckets were passed (a completion whose
                           claim is gone: rare, so completions pass one or two names, not 25)
  Numbers are written with %d, never as Lua prints them (%.14g: an exponent past 14 digits).
]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local key_at, arg_at = 1, 1

local function next_key()
  key_at = key_at + 1
  return KEYS[key_at - 1]
end
local function next_arg()
  arg_at = arg_at + 1
  return ARGV[arg_at - 1]
end

local function ttl_ms(ttl) return math.floor(tonumber(ttl) * 1000 + 0.5) end
local function width_ms(ttl) return math.ceil(ttl_ms(ttl) / 24) end
local function skewed() return {'?clock', now} end

-- The next event's location: its keys, its field, and where its bucket hashes are in KEYS, by TTL.
local function read_location(with_failures)
  local loc = {claim = next_key(), ttls = next_key()}
  if with_failures then loc.failures = next_key() end
  loc.field = next_arg()
  loc.lookup = next_arg() == '1'
  loc.given = {}
  for _ = 1, tonumber(next_arg()) do
    local ttl = next_arg()
    local newest = tonumber(next_arg())
    local count = tonumber(next_arg())
    loc.given[ttl] = {newest = newest, count = count, first = key_at}
    key_at = key_at + count
  end
  return loc
end

-- The bucket hash holding this location's mark, and the mark; nil when there is none; or, third, the reply
-- saying which bucket hashes the client did not pass.
local function find_mark(loc)
  if not loc.lookup then return nil, nil, {'?lookup'} end
  local known = redis.call('HGETALL', loc.ttls)
  for i = 1, #known, 2 do
    if tonumber(known[i + 1]) > now then
      local ttl = known[i]
      local given = loc.given[ttl]
      if not given then return nil, nil, {'?ttl', ttl, known[i + 1]} end
      local width = width_ms(ttl)
      local newest, oldest = math.floor(now / width), math.floor((now - ttl_ms(ttl)) / width)
      if newest > given.newest or oldest <= given.newest - given.count then return nil, nil, skewed() end
      for bucket = newest, oldest, -1 do
        local hash = KEYS[given.first + given.newest - bucket]
        local mark = redis.call('HGET', hash, loc.field)
        if mark then return hash, mark end
      end
    end
  end
  return nil, nil, nil
end

-- Where a mark of `ttl` is written now: its current bucket's hash and when that expires; or, third, the reply
-- saying the client did not pass it. Called before anything of the event is written.
local function write_target(loc, ttl)
  local given = loc.given[ttl]
  if not given then return nil, nil, {'?ttl', ttl, '0'} end
  local width = width_ms(ttl)
  local bucket = math.floor(now / width)
  if bucket > given.newest or bucket <= given.newest - given.count then return nil, nil, skewed() end
  return KEYS[given.first + given.newest - bucket], (bucket + 1) * width + ttl_ms(ttl), nil
end

-- Records the mark in `hash` (write_target's); the hash expires ttl after its bucket ends.
local function add_mark(loc, hash, expires, mark, ttl)
  redis.call('HSET', hash, loc.field, mark)
  if redis.call('PTTL', hash) < 0 then redis.call('PEXPIREAT', hash, string.format('%d', expires)) end
  if tonumber(redis.call('HGET', loc.ttls, ttl) or '0') < expires then
    redis.call('HSET', loc.ttls, ttl, string.format('%d', expires))
    -- The index lives as long as its longest-lived bucket; TTLs whose buckets are all gone are dropped.
    local known, latest = redis.call('HGETALL', loc.ttls), expires
    for i = 1, #known, 2 do
      local last = tonumber(known[i + 1])
      if last <= now then redis.call('HDEL', loc.ttls, known[i]) elseif last > latest then latest = last end
    end
    redis.call('PEXPIREAT', loc.ttls, string.format('%d', latest))
  end
end

-- What the location holds: the claim {'~owner', lease left}, else the mark {first seen, its hash's TTL left},
-- else nil; or find_mark's reply about what the client did not pass.
local function held(loc)
  local current = redis.call('GET', loc.claim)
  if current then return {current, redis.call('PTTL', loc.claim)} end
  local hash, mark, missing = find_mark(loc)
  if missing then return missing end
  if mark then return {mark, redis.call('PTTL', hash)} end
  return nil
end

-- Runs `step` on each event of the batch, with its location (read_location(with_failures)) and its own
-- arguments (`own` of them, read after the location's), and returns their replies in order.
local function each_event(with_failures, own, step)
  local replies = {}
  while key_at <= #KEYS do
    local loc = read_location(with_failures)
    local args = {}
    for i = 1, own do args[i] = next_arg() end
    replies[#replies + 1] = step(loc, unpack(args))
  end
  return replies
end
