-- slot.lua: prepended, after fence.lua, to the scripts that book stamps (see
-- scripts.go). doc.go says why next_slot is exact for a sliding window.
--
-- The next free slot at or after at: a new stamp must lie at least a span
-- after the limit-th most recent stamp, so that it and the limit-1 more
-- recent ones never share a span, and at least gap after the newest, so
-- that a client's sends are never a burst at one instant. Also returns
-- whether at itself is free (neither rule set the slot).
local function next_slot(stamps_key, limit, span, gap, at)
  local free = true
  local kth = redis.call('ZRANGE', stamps_key, -limit, -limit, 'WITHSCORES')
  if #kth == 2 and tonumber(kth[2]) + span > at then
    at = tonumber(kth[2]) + span
    free = false
  end
  local newest = redis.call('ZRANGE', stamps_key, -1, -1, 'WITHSCORES')
  if #newest == 2 and tonumber(newest[2]) + gap > at then
    at = tonumber(newest[2]) + gap
    free = false
  end
  return at, free
end

-- A member for a stamp at at, of a kind ('' for a send booked, ':moved' or
-- ':shifted' for restamp.lua's), that no stamp holds: several stamps can
-- share a score (a burst at the end of a block, a moved stamp that lands
-- on a booked one); the member only has to be unique, and stamps of one
-- score are trimmed together. The count of the score is not enough as an
-- index: a stamp of that score moved away leaves its index free and the
-- count then names a member that is still there, which ZADD would move
-- instead of adding a stamp: a send lost from the count.
local function stamp_member(stamps_key, at, kind)
  local n = redis.call('ZCOUNT', stamps_key, at, at)
  local member = string.format('%.0f:%d%s', at, n, kind)
  while redis.call('ZSCORE', stamps_key, member) do
    n = n + 1
    member = string.format('%.0f:%d%s', at, n, kind)
  end
  return member
end

-- Adds a stamp at at. The newest stamp stops mattering one span after it,
-- so the set expires then; at is the newest stamp, so the expiry only ever
-- moves later. Returns that expiry, for the ticket set.
local function add_stamp(stamps_key, at, span, slack)
  redis.call('ZADD', stamps_key, at, stamp_member(stamps_key, at, ''))
  local expiry = math.ceil((at + span) / 1000) + slack
  redis.call('PEXPIREAT', stamps_key, expiry)
  return expiry
end

-- The holder's ticket (its booked stamp) and the set that holds it (the
-- tickets or the urgent tickets), if it has one that no block has covered
-- since it was booked. A covered ticket is dropped: its stamp stays counted
-- (a slot spent for nothing, never an extra send) and its holder books
-- anew.
local function ticket_of(tickets_key, urgent_key, holder, blocked)
  for _, key in ipairs({tickets_key, urgent_key}) do
    local ticket = redis.call('ZSCORE', key, holder)
    if ticket then
      ticket = tonumber(ticket)
      if ticket < blocked then
        redis.call('ZREM', key, holder)
        return nil, nil
      end
      return ticket, key
    end
  end
  return nil, nil
end

-- Records a ticket in a ticket set, which expires with the stamps.
local function add_ticket(key, at, holder, expiry)
  redis.call('ZADD', key, at, holder)
  redis.call('PEXPIREAT', key, expiry)
end

-- Forgets the stamps and tickets at or before now - span: they cannot share
-- a span with a new stamp, which is never earlier than now.
local function trim(stamps_key, tickets_key, urgent_key, now, span)
  redis.call('ZREMRANGEBYSCORE', stamps_key, '-inf', now - span)
  redis.call('ZREMRANGEBYSCORE', tickets_key, '-inf', now - span)
  redis.call('ZREMRANGEBYSCORE', urgent_key, '-inf', now - span)
end
