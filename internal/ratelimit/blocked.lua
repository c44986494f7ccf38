-- blocked.lua: microseconds until "blocked until", 0 if not blocked.
--
-- KEYS[1]  "blocked until", microseconds on the Redis clock
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local blocked = redis.call('GET', KEYS[1])
if blocked and tonumber(blocked) > now then
  return tonumber(blocked) - now
end
return 0
