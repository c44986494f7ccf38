-- restamp.lua: move the stamp of a send that is about to go late to now,
-- if it still fits, or else along with the later tickets that leave it no
-- room; atomic because Redis runs a script alone. See doc.go.
--
-- KEYS[1..5]  as in reserve.lua
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  the late stamp's score
-- ARGV[4]  expiry slack, milliseconds
-- ARGV[5]  fence length after a primary change, microseconds
-- ARGV[6]  now, microseconds
-- ARGV[7]  the longest delay worth moving later tickets by, microseconds
--          (Limiter.mostToMove)
-- ARGV[8]  least gap between two stamps, microseconds
-- Returns how long from now the send goes once its stamp moved, in
-- microseconds (at once, or a gap after a send that has just gone, so that
-- late sends coming back together do not go as one burst), or -1 if the
-- stamp stays where it was (the bookings after it leave no room).
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local old = tonumber(ARGV[3])
local slack = tonumber(ARGV[4])
local now = tonumber(ARGV[6])
local most = tonumber(ARGV[7])
local gap = tonumber(ARGV[8])
fence(KEYS[4], KEYS[2], now, tonumber(ARGV[5]), slack)
if now < tonumber(redis.call('GET', KEYS[2]) or '0') then
  return -1
end
local member = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], ARGV[3], 'LIMIT', 0, 1)[1]
if not member then
  return -1
end

-- The stamps are valid when any L+1 of them in order span at least a span.
-- Moving stamps later can only break that for groups that hold a moved
-- stamp, which lie after now - span.
-- (Bounds are formatted: Lua would print these numbers with 14 digits.)
local near = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.0f', now - span), '+inf', 'WITHSCORES')
local function valid(moves)
  local scores = {}
  for i = 2, #near, 2 do
    local s = moves[near[i - 1]] or tonumber(near[i])
    scores[#scores + 1] = s
  end
  table.sort(scores)
  for i = 1, #scores - limit do
    if scores[i + limit] - scores[i] < span then
      return false
    end
  end
  return true
end

-- The send goes at the present, or a gap after the newest send that has
-- gone (a moved stamp lies a gap after its send), other than this one.
local at = now
for i = 2, #near, 2 do
  local sent = tonumber(near[i])
  if string.find(near[i - 1], ':moved', 1, true) then
    sent = sent - gap
  end
  if sent <= now and near[i - 1] ~= member and sent + gap > at then
    at = sent + gap
  end
end
-- Its stamp lies a gap (half the margin) after it: a send that comes late
-- comes out of a busy process, whose sends reach the platform later than
-- usual, and the half margin keeps the sends a span later from coming
-- closer than the window to it.
local stamp = at + gap

local moves = {[member] = stamp}
local shifted = {}
if not valid(moves) then
  -- A late slot given up costs the client a slot; moving the tickets
  -- booked a span or more after it (work still in the queue, which reads
  -- its ticket when it comes) later by the lateness costs it that
  -- lateness. Worth it only while the lateness is the smaller cost.
  local delta = stamp - old
  if delta > most then
    return -1
  end
  for _, key in ipairs({KEYS[3], KEYS[5]}) do
    local tickets = redis.call('ZRANGEBYSCORE', key, string.format('%.0f', old + span), '+inf', 'WITHSCORES')
    for i = 2, #tickets, 2 do
      local score = tickets[i]
      for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], score, score)) do
        if not moves[m] then
          moves[m] = tonumber(score) + delta
          shifted[#shifted + 1] = {key, tickets[i - 1], tonumber(score) + delta}
          break
        end
      end
    end
  end
  if #shifted == 0 or not valid(moves) then
    return -1
  end
end

-- A late send's stamp is named as moved (its send went a gap before it),
-- a ticket's as shifted.
for m, score in pairs(moves) do
  redis.call('ZREM', KEYS[1], m)
  local kind = ':shifted'
  if m == member then
    kind = ':moved'
  end
  redis.call('ZADD', KEYS[1], score, stamp_member(KEYS[1], score, kind))
end
for _, t in ipairs(shifted) do
  redis.call('ZADD', t[1], t[3], t[2])
end
-- The sets expire a span after the newest stamp, which may have moved.
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local expiry = math.ceil((tonumber(newest[2]) + span) / 1000) + slack
for _, key in ipairs({KEYS[1], KEYS[3], KEYS[5]}) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('PEXPIREAT', key, expiry)
  end
end
return at - now
