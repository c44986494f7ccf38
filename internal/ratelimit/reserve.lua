-- reserve.lua: one rate-limit decision, atomic because Redis runs a script
-- alone. See doc.go for why this is exact for a sliding window.
--
-- KEYS[1]  sorted set of send stamps; score = microseconds on the Redis clock
-- KEYS[2]  "blocked until", microseconds on the Redis clock; absent if none
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  longest wait that is booked, microseconds
-- ARGV[4]  expiry slack, milliseconds
-- Returns {1, wait} when a stamp was booked `wait` microseconds from now,
-- {0, wait} when the earliest slot is too far away and nothing was booked.
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local slack = tonumber(ARGV[4])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

-- A stamp at or before now - span cannot share a span with a new stamp,
-- which is never earlier than now.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)

local at = now
local blocked = redis.call('GET', KEYS[2])
if blocked and tonumber(blocked) > at then
  at = tonumber(blocked)
end
-- The L-th most recent stamp: a new stamp must be at least a span after it,
-- so that it and the L-1 more recent ones never share a span.
local kth = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
if #kth == 2 and tonumber(kth[2]) + span > at then
  at = tonumber(kth[2]) + span
end

local wait = at - now
if wait > max_wait then
  return {0, wait}
end

-- Several stamps can share a score (a burst at the end of a block); the
-- member only has to be unique, and stamps of one score are trimmed together.
local n = redis.call('ZCOUNT', KEYS[1], at, at)
redis.call('ZADD', KEYS[1], at, string.format('%.0f:%d', at, n))
-- The newest stamp stops mattering one span after it: expire then.
redis.call('PEXPIREAT', KEYS[1], math.ceil((at + span) / 1000) + slack)
return {1, wait}
