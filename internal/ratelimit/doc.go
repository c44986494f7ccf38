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
// of the callers' clocks (Options.Clock, passed to every script, so tests
// can set it), and a "blocked until" key written by Limiter.Block. Each
// decision is one Lua script, which Redis runs atomically. Let span =
// Window + Margin, let s_L be the L-th most recent stamp (L = Limit) and
// s_1 the newest. A booking at time now gets the stamp
//
//	t = max(now, blockedUntil, s_L + span, s_1 + Margin/2)
//
// (slot.lua). The last term spaces a client's sends: a burst of L sends at
// one instant would queue behind itself on its way and spread its arrivals
// by as much as the margin must cover. It costs at most L-1 half-margins
// once per run of sends, not throughput, and only ever makes a stamp later,
// which the exactness argument below allows. There is one way to book; it
// serves two moments.
//
// # Booking: a slot per task, when the task is created
//
// When work is fanned out (the pages a page reveals and its saves, or a
// resumed run's lost work: package fanout), Limiter.Book books one stamp
// per task, in order, and records it as that task's ticket (a third sorted
// set: member = the task's id, the holder, score = its stamp). The task is
// queued to run shortly before its slot (returnLead). When it runs, Wait,
// under its id as holder (WithHolder), claims the ticket and sleeps the rest
// in place. A task that was given its place in line at creation keeps it
// whatever else the queue hands out meanwhile, and never cycles through the
// queue asking for budget it cannot have yet.
//
// Any send without a ticket (a retry, a task replayed from asynqmon, an
// in-place retry of a failed request, work fanned out without booking)
// books at the moment it asks, by the same rule. If the slot is at most
// MaxInPlaceWait away the caller sleeps until it; otherwise the slot is
// booked as its ticket all the same and the caller is told to come back
// shortly before it (*NoBudgetError), so that waiting for budget goes back
// to the queue instead of holding a worker. An anonymous caller (no holder)
// cannot come back for a ticket and books nothing then.
//
// Some work waits on other work: a page reveals the records to save. Its
// holder is urgent (WithUrgentHolder; Book takes urgent holders first), and
// when it needs a slot again (its request failed) it takes the earliest
// slot booked for work that is not urgent and not yet due out of the queue,
// rather than one behind all of it, which would hold the page's own saves
// back until after every other save of the run. The work it takes the slot
// from books anew, at the end of the line, when it comes.
//
// A ticket is an ordinary stamp, so the exactness argument below is
// unchanged; a ticket never claimed (its work was cancelled or deleted) or
// claimed too late (see late slots) is a slot spent for nothing, never an
// extra send. A block (a 429, or the failover fence) voids the tickets it
// covers: their holders book anew when they come, after the block.
//
// Book books no slot sooner than the start lead (startLead, half a second)
// from now, so that even the first tasks of a fan-out have that long to
// come out of a busy queue: a ticket claimed more than half the margin
// after its slot has to be moved, with the tickets after it (see late
// slots), which costs the client that lateness.
//
// The return lead: asynq schedules to the whole second, so a task due at
// 10.9 s may run from 10.0 s on, and every task due within one second is
// handed to the queue at its start. Due returnLead before its slot, a task
// arrives at most a second earlier still, within MaxInPlaceWait of the slot
// with some slack to spare, and at least returnLead early, which is the
// time the queue has to hand out all the tasks of that second: up to a
// second when MaxInPlaceWait is 2.25 s or more (3 s by default).
//
// Booking every task when it is created, rather than when it first asks,
// is what keeps a 50-client run from sending about one task per campaign
// back to the queue (docs/benchmarks.md gives the requeues of a run).
//
// # Why this is exact for a sliding window
//
// Stamps are appended in order: a new t is never before an existing stamp,
// because the newest stamp was chosen the same way from an earlier (or
// equal) now, a block that can only have grown (or has expired, so lies in
// the past) and an older L-th stamp. (Clocks of different processes that
// disagree by less than the margin can put a stamp that much before the
// newest; the margin covers it, as it covers the delay below.) So with
// stamps s_1 <= s_2 <= ..., every s_i >= s_(i-L) + span, and no interval shorter than span holds L+1 stamps: its
// first and last would be L apart in order but less than span apart in
// time. Conversely the (L+1)-th send goes exactly span after the first, so
// the limiter reaches the most the rule allows: L sends per span, a send
// never waits unless it had to, and there is no burst allowance to abuse.
//
// # Late slots
//
// A send about to go more than Margin/2 after its slot (see Wait) may not
// use that slot. It goes at once instead (or a gap after the newest send
// that has gone, so that late sends coming back together are spaced like
// any others), with its stamp moved to half a margin after it: a send that
// comes late comes out of a busy process, whose sends reach the platform
// later than usual, and the half margin keeps the sends a span later from
// coming closer than the window to it (towards the sends a span before it,
// half the margin is left, and the late send's own delay adds to it). That
// is done when it keeps every L+1 stamps in order at least a span apart
// (restamp.lua checks the groups that hold a moved stamp). When a later
// booking leaves no room (its own send is a span after the late slot), the
// tickets booked a span or more after the late slot move on by the lateness
// as well, provided that lateness is under a slot's share of a span (span/L)
// or MaxInPlaceWait, whichever is longer: their holders are still in the
// queue and read their ticket when they come, so moving them costs the
// client that lateness, while giving the slot up costs it a slot, a whole
// span when its last window is full. Moving stamps later never brings a
// later append closer than a span to the L-th stamp before it, so the
// argument above still holds. Failing both, the slot is given up: it stays
// counted, and the send books the next free slot like any other. A late task
// is common when a busy queue releases the first tasks of many runs at once.
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
// # What each script is for
//
// slot.lua (the rule, shared), reserve.lua (one send: claim a ticket or
// book), book.lua (a fan-out's tickets), restamp.lua (a late slot),
// block.lua and blocked.lua (429s), fence.lua (failover, shared).
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
// (BenchmarkFence).
//
// # Whose clock
//
// The time of a decision comes from the calling process (Options.Clock),
// not from Redis TIME: tests then set it and assert exact slots, and a
// failover to a Redis server with another clock moves no decision. The
// price is that the worker machines' clocks must agree to well within the
// margin, as NTP keeps them; a skew adds to the delay spread the margin must
// cover. Redis's clock only sets when keys expire (PXAT, from the callers'
// times plus expirySlack), so a Redis server's clock running more than
// expirySlack ahead of the workers' would drop stamps and blocks early.
//
// # Why not a token bucket
//
// Token buckets and GCRA, go-redis/redis_rate included, allow a burst of L
// and then refill steadily: L requests at once and then one every
// Window/L puts L+1 requests in one Window, which this platform refuses.
// Hence the hand-written limiter.
package ratelimit
