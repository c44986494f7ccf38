-- pace.lua: plan when n new sends of a client should be ready, one per
-- span/limit from the later of the client's next free slot and the end of
-- the previous plan. See Limiter.Pace. Books nothing: only the plan's end
-- is kept, so that the next plan continues after it.
--
-- KEYS[1]  sorted set of send stamps (as in reserve.lua)
-- KEYS[2]  "blocked until", microseconds on the Redis clock
-- KEYS[3]  end of the previous plan, microseconds on the Redis clock
-- KEYS[4]  ID of the primary that last wrote the budget (fence.lua)
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  n: sends to plan (> 0)
-- ARGV[4]  expiry slack, milliseconds
-- ARGV[5]  fence length after a primary change, microseconds
-- Returns {first, step}: the i-th send (from 0) is planned first + i*step
-- microseconds from now.
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local slack = tonumber(ARGV[4])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
fence(KEYS[4], KEYS[2], now, tonumber(ARGV[5]), slack)

-- The next free slot, as reserve.lua would compute it.
local at = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
local kth = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
if #kth == 2 and tonumber(kth[2]) + span > at then
  at = tonumber(kth[2]) + span
end

local first = math.max(at, tonumber(redis.call('GET', KEYS[3]) or '0'))
local step = math.ceil(span / limit)
local plan_end = first + n * step
-- The plan stops mattering one span after its end.
redis.call('SET', KEYS[3], string.format('%.0f', plan_end),
  'PXAT', math.ceil((plan_end + span) / 1000) + slack)
return {first - now, step}
