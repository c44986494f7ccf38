-- block.lua: push "blocked until" to now + ARGV[1] microseconds, never back.
--
-- KEYS[1]  "blocked until", microseconds on the Redis clock
-- ARGV[1]  block length, microseconds (> 0)
-- ARGV[2]  expiry slack, milliseconds
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local blocked_until = now + tonumber(ARGV[1])

local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= blocked_until then
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', blocked_until),
  'PXAT', math.ceil(blocked_until / 1000) + tonumber(ARGV[2]))
return 1
