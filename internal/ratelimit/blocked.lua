-- blocked.lua: microseconds until "blocked until", 0 if not blocked.
--
-- KEYS[1]  "blocked until", microseconds
-- ARGV[1]  now, microseconds
local now = tonumber(ARGV[1])
local blocked = redis.call('GET', KEYS[1])
if blocked and tonumber(blocked) > now then
  return tonumber(blocked) - now
end
return 0
