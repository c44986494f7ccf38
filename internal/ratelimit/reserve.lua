-- reserve.lua: one send's rate-limit decision, atomic because Redis runs a
-- script alone. See doc.go.
--
-- KEYS[1]  sorted set of send stamps; score = microseconds on the callers' clock
-- KEYS[2]  "blocked until", microseconds; absent if none
-- KEYS[3]  sorted set of tickets: member = holder, score = its booked stamp
-- KEYS[4]  ID of the primary that last wrote the budget (fence.lua)
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  longest wait spent in place, microseconds
-- ARGV[4]  expiry slack, milliseconds
-- ARGV[5]  holder: who asks, "" for an anonymous caller
-- ARGV[6]  fence length after a primary change, microseconds
-- ARGV[7]  now, microseconds
-- ARGV[8]  least gap between two stamps, microseconds
-- Returns {go, wait, booked, stamp}, wait in microseconds from now and stamp
-- the slot's score:
--   {1, wait, _, stamp}  send after wait (negative: the holder's slot is that late)
--   {0, wait, 1, stamp}  the holder's ticket is wait from now; come back before it
--   {0, wait, 0, stamp}  nothing booked (anonymous): the free slot is wait from now
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local slack = tonumber(ARGV[4])
local holder = ARGV[5]
local now = tonumber(ARGV[7])
fence(KEYS[4], KEYS[2], now, tonumber(ARGV[6]), slack)
trim(KEYS[1], KEYS[3], now, span)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')

if holder ~= '' then
  local ticket = ticket_of(KEYS[3], holder, blocked)
  if ticket then
    if ticket - now > max_wait then
      return {0, ticket - now, 1, ticket}
    end
    redis.call('ZREM', KEYS[3], holder)
    return {1, ticket - now, 1, ticket}
  end
end

local at = next_slot(KEYS[1], limit, span, tonumber(ARGV[8]), math.max(now, blocked))
local wait = at - now
if wait > max_wait and holder == '' then
  return {0, wait, 0, at}
end
local expiry = add_stamp(KEYS[1], at, span, slack)
if wait <= max_wait then
  return {1, wait, 0, at}
end
-- A holder whose slot is out of reach keeps it as its ticket.
redis.call('ZADD', KEYS[3], at, holder)
redis.call('PEXPIREAT', KEYS[3], expiry)
return {0, wait, 1, at}
