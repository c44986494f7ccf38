-- fence.lua: prepended to every script that books or moves a stamp (see
-- scripts.go). Redis replicates asynchronously, so a replica promoted after
-- its primary died may lack the newest stamps of a client, and its budget
-- would let up to L more requests through in a window that already had L.
-- The server's replication ID changes whenever a server becomes a primary
-- (a promotion, or a restart that lost its data), so each client's key set
-- records the ID of the primary that last wrote it; a decision on a primary
-- with another ID first blocks the client for length microseconds: a span
-- and the longest in-place wait, which outlasts every send whose stamp may
-- have been lost. Doing it here, inside the script, makes the fence atomic
-- with the first decision on the new primary, whichever process makes it.
--
-- primary_key  the ID of the primary that last wrote the client's budget
-- blocked_key  "blocked until", microseconds
-- Returns true when it fenced.
local function fence(primary_key, blocked_key, now, length, slack)
  local info = redis.call('INFO', 'replication')
  local id = string.match(info, 'master_replid:(%w+)')
  if not id then
    error('ratelimit: INFO replication shows no master_replid')
  end
  local seen = redis.call('GET', primary_key)
  if seen == id then
    return false
  end
  -- Kept without expiry: one short key per client, so that a client idle
  -- for long is not taken for a new one after a failover.
  redis.call('SET', primary_key, id)
  if not seen then
    -- A client never seen: new, or all of its stamps were lost. Only a
    -- server that was promoted (it keeps its former ID as master_replid2)
    -- can have lost them.
    local former = string.match(info, 'master_replid2:(%w+)')
    if not former or string.match(former, '^0+$') then
      return false
    end
  end
  local fenced_until = now + length
  if tonumber(redis.call('GET', blocked_key) or '0') < fenced_until then
    redis.call('SET', blocked_key, string.format('%.0f', fenced_until),
      'PXAT', math.ceil(fenced_until / 1000) + slack)
  end
  return true
end
