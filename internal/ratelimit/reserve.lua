-- reserve.lua: one rate-limit decision, atomic because Redis runs a script
-- alone. See doc.go for why this is exact for a sliding window.
--
-- KEYS[1]  sorted set of send stamps; score = microseconds on the Redis clock
-- KEYS[2]  "blocked until", microseconds on the Redis clock; absent if none
-- KEYS[3]  sorted set of turns handed to callers sent away; score = the
--          microsecond at which each caller was told its turn comes
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  longest wait that is booked, microseconds
-- ARGV[4]  expiry slack, milliseconds
-- Returns {1, wait} when a stamp was booked `wait` microseconds from now,
-- {0, wait} when the earliest slot is too far away and nothing was booked:
-- then wait is when this caller's turn comes, counting the callers already
-- sent away, so that a crowd sent away together comes back spread over the
-- windows it needs instead of all at the next one.
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local slack = tonumber(ARGV[4])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

-- turn returns when the next caller sent away may send, given the earliest
-- free slot `at`: each caller already holding a turn takes one slot, and
-- slot j comes a span after slot j - limit, as in the booking rule. Turns
-- due within max_wait are dropped first: those callers are back (or about
-- to be) and book for themselves. A turn is an estimate, never a booking:
-- a caller whose turn was taken meanwhile is sent away again.
local function turn(at)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now + max_wait)
  local ahead = redis.call('ZCARD', KEYS[3])
  local seq = {}
  local recent = redis.call('ZRANGE', KEYS[1], -limit, -1, 'WITHSCORES')
  for i = 2, #recent, 2 do
    seq[#seq + 1] = tonumber(recent[i])
  end
  local t = at
  seq[#seq + 1] = t
  for _ = 1, ahead do
    local m = #seq + 1
    if m > limit and seq[m - limit] + span > t then
      t = seq[m - limit] + span
    end
    seq[m] = t
  end
  redis.call('ZADD', KEYS[3], t, string.format('%.0f:%.0f:%d', t, now, ahead))
  redis.call('PEXPIREAT', KEYS[3], math.ceil(t / 1000) + slack)
  return t
end

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
  return {0, turn(at) - now}
end

-- Several stamps can share a score (a burst at the end of a block); the
-- member only has to be unique, and stamps of one score are trimmed together.
local n = redis.call('ZCOUNT', KEYS[1], at, at)
redis.call('ZADD', KEYS[1], at, string.format('%.0f:%d', at, n))
-- The newest stamp stops mattering one span after it: expire then.
redis.call('PEXPIREAT', KEYS[1], math.ceil((at + span) / 1000) + slack)
return {1, wait}
