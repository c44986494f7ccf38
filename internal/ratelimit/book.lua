-- book.lua: book one slot per holder, in order, as each holder's ticket
-- (see Limiter.Book). A holder that already has a ticket keeps it.
--
-- KEYS[1..5]  as in reserve.lua
-- ARGV[1]  limit: stamps allowed in any span
-- ARGV[2]  span: window + margin, microseconds
-- ARGV[3]  expiry slack, milliseconds
-- ARGV[4]  fence length after a primary change, microseconds
-- ARGV[5]  now, microseconds
-- ARGV[6]  least gap between two stamps, microseconds
-- ARGV[7]  start lead: the earliest slot booked is this long after now, microseconds
-- ARGV[8]  how many of the holders, from the first, are urgent
-- ARGV[9]  a random number in [0, gap), 0 for none: a slot booked at a
--          free moment (set by neither the span nor the gap after the
--          newest stamp: the first of a fan-out, mostly) is made later by it,
--          so that the sends of clients whose runs started together do not
--          all fall due at the same instants; the slots after it keep its
--          offset by the gap (spread each, a fan-out's sends would lie half
--          a gap further apart each, and a slot set by the span must keep
--          its stamp's offset or the client's sends drift later window
--          after window)
-- ARGV[10..]  the holders
-- Returns each holder's slot, in microseconds from now.
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local slack = tonumber(ARGV[3])
local now = tonumber(ARGV[5])
local gap = tonumber(ARGV[6])
local earliest = now + tonumber(ARGV[7])
local urgent = tonumber(ARGV[8])
local seed = tonumber(ARGV[9])
fence(KEYS[4], KEYS[2], now, tonumber(ARGV[4]), slack)
trim(KEYS[1], KEYS[3], KEYS[5], now, span)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')

local slots = {}
for i = 10, #ARGV do
  local holder = ARGV[i]
  local at = ticket_of(KEYS[3], KEYS[5], holder, blocked)
  if not at then
    local free
    at, free = next_slot(KEYS[1], limit, span, gap, math.max(earliest, blocked))
    if free then
      at = at + seed
    end
    local expiry = add_stamp(KEYS[1], at, span, slack)
    if i - 9 <= urgent then
      add_ticket(KEYS[5], at, holder, expiry)
    else
      add_ticket(KEYS[3], at, holder, expiry)
    end
  end
  slots[#slots + 1] = at - now
end
return slots
