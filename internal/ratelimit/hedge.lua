-- hedge.lua: book a slot for a second copy of a request already sent, only
-- if it is free now, nothing of the client is booked after now and nothing
-- was sent lately: a hedge may use budget the client's work leaves unused,
-- never a slot that queued work needs. See Limiter.Hedge.
--
-- KEYS[1..5]  as in reserve.lua
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  expiry slack, milliseconds
-- ARGV[4]  fence length after a primary change, microseconds
-- ARGV[5]  now, microseconds
-- ARGV[6]  least gap between two stamps, microseconds
-- ARGV[7]  quiet: no stamp may lie less than this before now, microseconds
-- Returns 1 when the slot is booked (send the copy now), 0 when not.
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local slack = tonumber(ARGV[3])
local now = tonumber(ARGV[5])
fence(KEYS[4], KEYS[2], now, tonumber(ARGV[4]), slack)
trim(KEYS[1], KEYS[3], KEYS[5], now, span)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  return 0
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #newest == 2 and tonumber(newest[2]) > now - tonumber(ARGV[7]) then
  return 0
end
if next_slot(KEYS[1], limit, span, tonumber(ARGV[6]), now) > now then
  return 0
end
add_stamp(KEYS[1], now, span, slack)
return 1
