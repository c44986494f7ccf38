-- reserve.lua: one send's rate-limit decision, atomic because Redis runs a
-- script alone. See doc.go.
--
-- KEYS[1]  sorted set of send stamps; score = microseconds on the callers' clock
-- KEYS[2]  "blocked until", microseconds; absent if none
-- KEYS[3]  sorted set of tickets: member = holder, score = its booked stamp
-- KEYS[4]  ID of the primary that last wrote the budget (fence.lua)
-- KEYS[5]  sorted set of urgent holders' tickets, as KEYS[3]
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  longest wait spent in place, microseconds
-- ARGV[4]  expiry slack, milliseconds
-- ARGV[5]  holder: who asks, "" for an anonymous caller
-- ARGV[6]  fence length after a primary change, microseconds
-- ARGV[7]  now, microseconds
-- ARGV[8]  least gap between two stamps, microseconds
-- ARGV[9]  "1" if the holder is urgent
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
trim(KEYS[1], KEYS[3], KEYS[5], now, span)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')

if holder ~= '' then
  local ticket, set = ticket_of(KEYS[3], KEYS[5], holder, blocked)
  if ticket then
    if ticket - now > max_wait then
      return {0, ticket - now, 1, ticket}
    end
    redis.call('ZREM', set, holder)
    return {1, ticket - now, 1, ticket}
  end
end

local at = next_slot(KEYS[1], limit, span, tonumber(ARGV[8]), math.max(now, blocked))
local wait = at - now
if wait > max_wait and holder == '' then
  return {0, wait, 0, at}
end
if wait > max_wait and ARGV[9] == '1' then
  -- An urgent holder (a page, which reveals more work) takes the earliest
  -- slot booked for work that is not urgent, if that comes sooner; that
  -- work, not yet out of the queue (its slot is further away than any
  -- early return), books anew when it comes. The stamp stays as it is.
  local taken = redis.call('ZRANGEBYSCORE', KEYS[3], string.format('(%.0f', now + max_wait),
    string.format('(%.0f', at), 'WITHSCORES', 'LIMIT', 0, 1)
  if #taken == 2 and tonumber(taken[2]) >= blocked then
    redis.call('ZREM', KEYS[3], taken[1])
    at = tonumber(taken[2])
    local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
    add_ticket(KEYS[5], at, holder, math.ceil((tonumber(newest[2]) + span) / 1000) + slack)
    return {0, at - now, 1, at}
  end
end
local expiry = add_stamp(KEYS[1], at, span, slack)
if wait <= max_wait then
  return {1, wait, 0, at}
end
-- A holder whose slot is out of reach keeps it as its ticket.
if ARGV[9] == '1' then
  add_ticket(KEYS[5], at, holder, expiry)
else
  add_ticket(KEYS[3], at, holder, expiry)
end
return {0, wait, 1, at}
