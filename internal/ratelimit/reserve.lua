-- reserve.lua: one rate-limit decision, atomic because Redis runs a script
-- alone. See doc.go for why this is exact for a sliding window.
--
-- KEYS[1]  sorted set of send stamps; score = microseconds on the Redis clock
-- KEYS[2]  "blocked until", microseconds on the Redis clock; absent if none
-- KEYS[3]  sorted set of tickets: member = holder, score = its booked stamp
-- KEYS[4]  ID of the primary that last wrote the budget (fence.lua)
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  longest wait spent in place, microseconds
-- ARGV[4]  longest wait booked for a holder who comes back, microseconds
-- ARGV[5]  expiry slack, milliseconds
-- ARGV[6]  holder: who asks, "" for an anonymous caller
-- ARGV[7]  fence length after a primary change, microseconds
-- Returns {go, wait, booked, stamp}, wait in microseconds from now and stamp
-- the slot's score:
--   {1, wait, 1, stamp}  send after wait (negative: the holder's slot is that late)
--   {0, wait, 1, stamp}  a slot is booked for the holder wait from now; come back
--   {0, wait, 0, stamp}  nothing booked: the earliest free slot is wait from now
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local book_ahead = tonumber(ARGV[4])
local slack = tonumber(ARGV[5])
local holder = ARGV[6]

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
fence(KEYS[4], KEYS[2], now, tonumber(ARGV[7]), slack)

-- A stamp at or before now - span cannot share a span with a new stamp,
-- which is never earlier than now; a ticket that old is past any use.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - span)

local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')

-- A holder coming back for its ticket gets the slot booked for it, unless a
-- block has covered that slot since. The stamp was counted when booked, so
-- a ticket dropped here (or never claimed) only ever wastes a slot.
if holder ~= '' then
  local ticket = redis.call('ZSCORE', KEYS[3], holder)
  if ticket then
    ticket = tonumber(ticket)
    if ticket >= blocked then
      if ticket - now > max_wait then
        return {0, ticket - now, 1, ticket}
      end
      redis.call('ZREM', KEYS[3], holder)
      return {1, ticket - now, 1, ticket}
    end
    redis.call('ZREM', KEYS[3], holder)
  end
end

local at = math.max(now, blocked)
-- The L-th most recent stamp: a new stamp must be at least a span after it,
-- so that it and the L-1 more recent ones never share a span.
local kth = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
if #kth == 2 and tonumber(kth[2]) + span > at then
  at = tonumber(kth[2]) + span
end

local wait = at - now
local ticketed = holder ~= '' and wait > max_wait and wait <= book_ahead
if wait > max_wait and not ticketed then
  return {0, wait, 0, at}
end

-- Several stamps can share a score (a burst at the end of a block); the
-- member only has to be unique, and stamps of one score are trimmed together.
local n = redis.call('ZCOUNT', KEYS[1], at, at)
redis.call('ZADD', KEYS[1], at, string.format('%.0f:%d', at, n))
-- The newest stamp stops mattering one span after it: expire then. at is the
-- newest stamp, so the expiry only ever moves later.
local expiry = math.ceil((at + span) / 1000) + slack
redis.call('PEXPIREAT', KEYS[1], expiry)
if not ticketed then
  return {1, wait, 0, at}
end
redis.call('ZADD', KEYS[3], at, holder)
redis.call('PEXPIREAT', KEYS[3], expiry)
return {0, wait, 1, at}
