// Package ratelimit keeps one request budget per platform client in Redis,
// shared by every worker process, so that however many workers send for a
// client, the platform's sliding-window limit is never hit.
//
// # The rule being obeyed
//
// The platform refuses a request when Limit or more requests of the same
// client arrived in the previous Window (10 per 60 s by default): a sliding
// window over arrival times.
//
// # Algorithm
//
// Each client has a Redis sorted set of send stamps, scored in microseconds
// of the Redis server's clock (TIME), so every machine reads one clock, and
// a "blocked until" key written by Limiter.Block. Each decision is one Lua
// script, which Redis runs atomically. Let span = Window + Margin and let
// s_L be the L-th most recent stamp (L = Limit). A reservation at Redis
// time now gets the stamp
//
//	t = max(now, blockedUntil, s_L + span)
//
// If t - now <= MaxInPlaceWait the script adds t, possibly in the future,
// and the caller waits t - now before sending. Otherwise the caller is sent
// away, so it can put its task back in the queue rather than hold a worker
// slot; whether t is booked for it then is the subject of tickets.
//
// # Tickets
//
// A caller that names itself a holder (WithHolder, in practice a queue task
// ID) and whose slot is further away than MaxInPlaceWait, but within
// BookAhead, has the slot booked all the same as its ticket, kept in a
// third sorted set, and is told to come back shortly before it. On its next
// Reserve it claims that very slot, unless a block has covered it since. A
// task that leaves the queue and returns therefore keeps its place in line:
// whatever was dequeued meanwhile lines up behind it. A ticket is an
// ordinary stamp, so the exactness argument below is unchanged; a ticket
// never claimed (its work was cancelled) or claimed too late (see Wait) is a
// slot spent for nothing, never an extra send.
//
// # Pacing
//
// Limiter.Pace plans n future sends of a client one span/L apart, from the
// later of its next free slot and the end of its previous plan, and keeps
// only that end. It books nothing, so it cannot break the limit; callers use
// it to hold work out of the queue until shortly before its slot, so that a
// burst of work does not cycle through the queue asking for budget it cannot
// have yet. Work sent away with a ticket and paced work are both due back
// the same lead before their slots (returnLead), chosen so that a queue
// that schedules to the whole second never hands them back too early to
// sleep in place.
//
// # Why this is exact for a sliding window
//
// Stamps are appended in order: a new t is never before an existing stamp,
// because the newest stamp was chosen the same way from an earlier now, a
// block that can only have grown (or has expired, so lies in the past) and
// an older L-th stamp. So with stamps s_1 <= s_2 <= ..., every s_i >=
// s_(i-L) + span, and no interval shorter than span holds L+1 stamps: its
// first and last would be L apart in order but less than span apart in
// time. Conversely the (L+1)-th send goes exactly span after the first, so
// the limiter reaches the most the rule allows: L sends per span, a send
// never waits unless it had to, and there is no burst allowance to abuse.
//
// # Late slots
//
// A send about to go more than Margin/2 after its slot (see Wait) may not
// use that slot. Its stamp is moved to the present instead, when that keeps
// every L+1 stamps in order at least a span apart; only groups that hold
// the new stamp can change, and they lie within a span of it, so
// restamp.lua checks just those. Moving a stamp later never brings a later
// append closer than a span to the L-th stamp before it, so the argument
// above still holds. When a later booking leaves no room (its own send is a
// span after the late slot), the slot is given up: it stays counted, and
// the send books the next free slot like any other.
//
// # Why the margin
//
// A stamp is taken before the request travels: arrival = stamp + delay,
// where the delay covers the Redis reply, the sleep overshooting, the HTTP
// client and the network. If every delay lies within [dmin, dmax], the
// arrivals in any closed window of length Window come from stamps within an
// interval of length Window + (dmax - dmin). When Margin > dmax - dmin that
// interval is shorter than span, so it holds at most L stamps: with the
// request itself, at most L-1 others arrived in its previous Window, and the
// platform accepts it. Reordering in the network does not matter, since the
// argument counts sets, not sequences. The margin must therefore cover the
// spread of the delay (pauses, slow connects), not the delay itself; one
// second against a 60-second window costs under 2% of throughput.
//
// # Blocks, failures and cleanup
//
// An unexpected 429 means another program spends the same budget, which the
// stamps cannot see; Limiter.Block then holds every reservation of the
// client, in every process, until the given time, and never shortens a block
// already in force. Every fault errs towards sending less: a Redis error is
// returned, never taken as permission; a booked slot whose caller gives up
// stays counted; a script that ran but whose reply was lost and retried
// books twice. Stamps older than now - span are trimmed at each decision,
// the stamp set expires one span after its newest stamp (which may be in the
// future, so the expiry is counted from it rather than from now), the ticket
// set with it, and the block key when the block ends: an idle client costs
// one short key, the ID of the primary that last wrote its budget.
//
// # Failover
//
// Redis replicates asynchronously: when a primary dies, the replica that
// Sentinel (or Redis Cluster) promotes may lack the newest stamps of a
// client, and would then grant up to L sends in a window that already had
// L. Two cures were weighed. WAIT after each booking would make a stamp
// durable on a replica before its send, at the price of a replica round
// trip on every send, a stop of every send while the replica is away, and
// in a Cluster a WAIT that carries no key to route it by. The fence was
// chosen instead: every script that books or moves a stamp first compares
// the server's replication ID (INFO replication; it changes whenever a
// server becomes a primary) with the one recorded in the client's key set,
// and on a change blocks the client for span + MaxInPlaceWait: every send
// whose stamp may have been lost was stamped before the change was seen
// and went at most MaxInPlaceWait after its stamp, so a span later it no
// longer counts. Up to half a span more, fixed per client, staggers the
// clients' fences, so that they do not all send a burst at the same
// instant when their fences end. A client unknown to a promoted server
// (its master_replid2 is set) is fenced too, since all of its stamps may
// have been lost. The check runs inside the script, so it is atomic with
// the first decision on the new primary, whichever process makes it, and
// costs no round trip. Its cost is one to one and a half windows per
// client per failover (62 to 92 s at the real pace, 2 to 2.6 s at time
// scale 60) and about 10 microseconds of Redis time per decision
// (BenchmarkFence). It assumes that the Redis servers' clocks agree to
// within the margin, as NTP keeps them.
//
// # Why not a token bucket
//
// Token buckets and GCRA, go-redis/redis_rate included, allow a burst of L
// and then refill steadily: L requests at once and then one every
// Window/L puts L+1 requests in one Window, which this platform refuses.
// Hence the hand-written limiter.
package ratelimit
