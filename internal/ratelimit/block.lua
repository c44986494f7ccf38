-- block.lua: push "blocked until" to now + ARGV[1] microseconds, never back.
--
-- KEYS[1]  "blocked until", microseconds
-- ARGV[1]  block length, microseconds (> 0)
-- ARGV[2]  expiry slack, milliseconds
-- ARGV[3]  now, microseconds
-- Tickets the block covers are void: reserve.lua and book.lua drop them.
local now = tonumber(ARGV[3])
local blocked_until = now + tonumber(ARGV[1])

local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= blocked_until then
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', blocked_until),
  'PXAT', math.ceil(blocked_until / 1000) + tonumber(ARGV[2]))
return 1
