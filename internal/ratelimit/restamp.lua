-- restamp.lua: move the stamp of a send that is about to go late to now,
-- if it still fits; atomic because Redis runs a script alone. See doc.go.
--
-- KEYS[1]  sorted set of send stamps; score = microseconds
-- KEYS[2]  "blocked until", microseconds; absent if none
-- KEYS[3]  ID of the primary that last wrote the budget (fence.lua)
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  the late stamp's score
-- ARGV[4]  expiry slack, milliseconds
-- ARGV[5]  fence length after a primary change, microseconds
-- ARGV[6]  now, microseconds
-- Returns 1 if the stamp now lies at the present moment (send at once), 0
-- if it stays where it was (a stamp booked after it leaves no room).
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local old = ARGV[3]
local slack = tonumber(ARGV[4])

local now = tonumber(ARGV[6])
fence(KEYS[3], KEYS[2], now, tonumber(ARGV[5]), slack)
if now < tonumber(redis.call('GET', KEYS[2]) or '0') then
  return 0
end
local member = redis.call('ZRANGEBYSCORE', KEYS[1], old, old, 'LIMIT', 0, 1)[1]
if not member then
  return 0
end

-- The stamps are valid when any L+1 of them in order span at least a span.
-- Moving one to now can only break that for groups that hold now, which lie
-- within a span on either side of it.
-- (Bounds are formatted: Lua would print these numbers with 14 digits.)
local near = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.0f', now - span),
  string.format('(%.0f', now + span), 'WITHSCORES')
local scores = {}
local placed = false
for i = 2, #near, 2 do
  if near[i - 1] ~= member then
    local s = tonumber(near[i])
    if not placed and s > now then
      scores[#scores + 1] = now
      placed = true
    end
    scores[#scores + 1] = s
  end
end
if not placed then
  scores[#scores + 1] = now
end
for i = 1, #scores - limit do
  if scores[i + limit] - scores[i] < span then
    return 0
  end
end

redis.call('ZREM', KEYS[1], member)
local n = redis.call('ZCOUNT', KEYS[1], now, now)
redis.call('ZADD', KEYS[1], now, string.format('%.0f:%d:moved', now, n))
-- The set expires a span after its newest stamp, which may be a later
-- booking than this one.
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.ceil((tonumber(newest[2]) + span) / 1000) + slack)
return 1
