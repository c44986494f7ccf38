package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/clock"
)

// ErrEmptyClientID is returned (wrapped) when a method is called with an
// empty client ID: the budget belongs to a named client, and silently
// sharing one budget under "" would hide a wiring bug.
var ErrEmptyClientID = errors.New("ratelimit: empty client ID")

// expirySlack is added to every key's expiry so that the millisecond
// rounding of Redis expiry can never drop a stamp or block that still counts.
const expirySlack = 100 * time.Millisecond

// Limiter books sends against one rate budget per platform client, kept in
// Redis so that every worker process shares it. It is safe for concurrent
// use; it holds no state of its own besides its options.
type Limiter struct {
	rdb  redis.UniversalClient
	opts Options
	// span is Window + Margin in whole microseconds, rounded up so that
	// the rounding errs towards waiting longer.
	span int64
	// maxWait is MaxInPlaceWait in whole microseconds, rounded down.
	maxWait int64
	// gap is the least time between two sends of a client, in
	// microseconds: half the margin. A burst of Limit sends at one instant
	// queues behind itself in the sending process and on the way, which
	// spreads its arrivals by as much as the margin must cover; spaced
	// sends do not. It costs at most Limit-1 gaps once per run of sends,
	// never throughput (a send a span after its Limit-th predecessor is
	// usually far more than a gap after the one before).
	gap int64
	// fence is how long a client's budget is blocked at least when its
	// first decision on a new primary finds that the primary changed
	// (fence.lua): span and MaxInPlaceWait, in microseconds. See
	// fenceFor.
	fence int64
	// spread returns a number in [0, n) for book.lua's spreading of a
	// fan-out's first slot (rand.Int64N; a test's constant).
	spread func(n int64) int64
}

// New returns a Limiter that keeps its state in rdb. It refuses invalid
// options with an error naming every bad field.
func New(rdb redis.UniversalClient, opts Options) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("ratelimit: nil Redis client")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	span := int64((opts.Window + opts.Margin + time.Microsecond - 1) / time.Microsecond)
	return &Limiter{
		rdb:     rdb,
		opts:    opts,
		span:    span,
		maxWait: opts.MaxInPlaceWait.Microseconds(),
		gap:     (opts.Margin / 2).Microseconds(),
		spread:  spread,
		fence:   span + opts.MaxInPlaceWait.Microseconds() + 1,
	}, nil
}

// Reserve decides one send for the client and returns how long the caller
// must wait before sending (0: send now; negative: the caller's ticket is
// that late). A holder (WithHolder) with a ticket claims it; any other
// caller books the client's next free slot. The slot counts against the
// budget whether or not the caller then sends.
//
// If the slot is more than MaxInPlaceWait away, Reserve returns a
// *NoBudgetError so that the caller can requeue its work instead of holding
// a worker. A holder's slot is booked all the same as its ticket, which its
// next Reserve claims: a task that leaves the queue and comes back keeps its
// place in line. An anonymous caller books nothing then.
func (l *Limiter) Reserve(ctx context.Context, clientID string) (time.Duration, error) {
	wait, _, err := l.reserve(ctx, clientID)
	return wait, err
}

// reserve is Reserve, and also returns the slot's stamp (microseconds on
// the Redis clock), which Wait needs to move a late slot.
func (l *Limiter) reserve(ctx context.Context, clientID string) (time.Duration, int64, error) {
	if clientID == "" {
		return 0, 0, fmt.Errorf("ratelimit: reserve: %w", ErrEmptyClientID)
	}
	h, _ := ctx.Value(holderKey{}).(holder)
	urgent := 0
	if h.urgent {
		urgent = 1
	}
	res, err := reserveScript.Run(ctx, l.rdb, l.keys(clientID),
		l.opts.Limit, l.span, l.maxWait, expirySlack.Milliseconds(), h.id, l.fenceFor(clientID), l.now(), l.gap, urgent).Int64Slice()
	if err == nil && len(res) != 4 {
		err = fmt.Errorf("unexpected script reply %v", res)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: reserve for client %q: %w", clientID, err)
	}
	wait := time.Duration(res[1]) * time.Microsecond
	if res[0] == 0 {
		nb := &NoBudgetError{ClientID: clientID, Wait: wait, Booked: res[2] == 1, ComeBackIn: max(wait-l.returnLead(), 0)}
		if l.opts.Observer != nil {
			l.opts.Observer.NoBudget(clientID, wait)
		}
		return 0, 0, nb
	}
	if l.opts.Observer != nil {
		l.opts.Observer.Waited(clientID, max(wait, 0))
	}
	return wait, res[3], nil
}

// queueGranularity is how early a queue may hand back work due at a given
// time: asynq schedules to the whole second, so a task due at 10.9 s runs
// from 10.0 s on.
const queueGranularity = time.Second

// returnLead is how long before its slot work should be due back from the
// queue. A task due then comes back up to a queueGranularity earlier, so it
// must still find its slot within MaxInPlaceWait from there, with
// returnSlack to spare, or it is sent away again and, due within the same
// second, comes straight back: a spin. It comes back at least returnLead
// early, which is the time a busy queue has to hand it out: every task due
// within the same second is handed to the queue at the start of that
// second, and the last of them comes out as late as the queue is long
// (docs/rate-limit.md). With an in-place wait of a second or less no lead
// avoids the spin; half of it keeps returns on the early side.
func (l *Limiter) returnLead() time.Duration {
	wait := l.opts.MaxInPlaceWait
	if wait <= queueGranularity {
		return wait / 2
	}
	room := wait - queueGranularity
	return min(max(room-returnSlack, room/2), queueGranularity)
}

// returnSlack is the part of MaxInPlaceWait that returnLead leaves unused,
// for the moments a returning task spends in the queue's hand-over and in
// Redis before it asks for its slot.
const returnSlack = 250 * time.Millisecond

// startLead is how soon after now Book books a slot: the time work created
// now has to come out of the queue (it is queued at once when its slot is
// within returnLead). A task later than that for its slot moves it, and
// the tickets after it, by its lateness (see Wait), which costs that one
// line of sends the lateness; a longer lead would cost every run's first
// window the whole lead.
func (l *Limiter) startLead() time.Duration {
	return min(firstSlotLead, l.returnLead())
}

// firstSlotLead is startLead's usual value. When fifty runs start
// together on two cores, their first fan-outs come out of the queue 0.1 to
// 0.7 s after they are queued (docs/rate-limit.md, "The lead"): half a
// second keeps most of them on time, and the late few move by a little.
const firstSlotLead = 500 * time.Millisecond

// Wait reserves a slot for the client and sleeps until it comes, so that
// the caller may send as soon as Wait returns nil. It returns a
// *NoBudgetError without sleeping when the slot is more than MaxInPlaceWait
// away, and an error wrapping ctx.Err() if ctx ends during the sleep; the
// booked slot then stays used, which only errs on the safe side.
//
// A slot is only good until Margin/2 after it: a process starved of CPU
// (or paused), or a holder back late for its ticket, could otherwise put
// its request in the same window as requests sent on time a window after
// it, which the margin no longer covers. Such a slot is moved to the
// present if the stamps booked after it leave room, or can be made to by
// moving later tickets on (restamp.lua, see the package documentation),
// and otherwise given up (it stays counted) while Wait books another. With no
// margin configured there is nothing to measure against and every slot is
// used.
func (l *Limiter) Wait(ctx context.Context, clientID string) error {
	for {
		asked := l.opts.Clock.Now()
		d, stamp, err := l.reserve(ctx, clientID)
		if err != nil {
			return err
		}
		if err := sleep(ctx, clientID, d); err != nil {
			return err
		}
		// The slot lies between asked+d and the reply's arrival+d: measured
		// from the earlier bound, lateness is never underestimated.
		late := l.opts.Clock.Now().Sub(asked) - d
		if l.opts.Margin == 0 || late <= l.opts.Margin/2 {
			return nil
		}
		wait, moved, err := l.restamp(ctx, clientID, stamp)
		if err != nil {
			return err
		}
		if moved {
			return sleep(ctx, clientID, wait)
		}
		if l.opts.Observer != nil {
			l.opts.Observer.GaveUp(clientID, late)
		}
	}
}

// sleep waits d (nothing when d is not positive) for Wait, or returns the
// context's error.
func sleep(ctx context.Context, clientID string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := clock.Sleep(ctx, d); err != nil {
		return fmt.Errorf("ratelimit: wait for client %q: %w", clientID, err)
	}
	return nil
}

// restamp moves the client's stamp from a slot that has passed to the
// present (or a gap after a send that has just gone), if the stamps booked
// since leave room for it there or the tickets among them can move on by at
// most mostToMove to make room, and reports whether it did and how long the
// caller waits for the new slot: a late send then goes at once instead of
// waiting for a slot at the end of the line, and the slot it leaves is not
// lost.
func (l *Limiter) restamp(ctx context.Context, clientID string, stamp int64) (time.Duration, bool, error) {
	wait, err := restampScript.Run(ctx, l.rdb, l.keys(clientID),
		l.opts.Limit, l.span, stamp, expirySlack.Milliseconds(), l.fenceFor(clientID), l.now(), l.mostToMove(), l.gap).Int64()
	if err != nil {
		return 0, false, fmt.Errorf("ratelimit: move a late slot of client %q: %w", clientID, err)
	}
	return time.Duration(wait) * time.Microsecond, wait >= 0, nil
}

// mostToMove is the longest lateness restamp moves the tickets after a late
// slot by rather than give the slot up: a slot's share of a span (span/L),
// which is what a slot given up costs the client on average, or
// MaxInPlaceWait when that is longer. A slot given up costs a whole span
// when the client's last window is full, and a lateness within the wait
// that is slept in place anyway is a busy queue's, which hands out the
// first tasks of many runs started together up to a second late; a longer
// one comes from a stalled process, and holding every later send of the
// client back by it would cost more than the slot.
func (l *Limiter) mostToMove() int64 {
	return max(l.span/int64(l.opts.Limit), l.maxWait)
}

// Block makes every reservation for the client, by every process, wait
// until d from now. It is meant for an unexpected 429, which means something
// else spends the same budget. A block never shortens one already in force,
// and d <= 0 does nothing.
func (l *Limiter) Block(ctx context.Context, clientID string, d time.Duration) error {
	if clientID == "" {
		return fmt.Errorf("ratelimit: block: %w", ErrEmptyClientID)
	}
	if d <= 0 {
		return nil
	}
	micros := int64((d + time.Microsecond - 1) / time.Microsecond)
	if err := blockScript.Run(ctx, l.rdb, []string{l.keys(clientID)[blockedKey]}, micros, expirySlack.Milliseconds(), l.now()).Err(); err != nil {
		return fmt.Errorf("ratelimit: block client %q: %w", clientID, err)
	}
	return nil
}

// BlockedFor reports how long the client remains blocked by Block (0 if it
// is not), for metrics and tests.
func (l *Limiter) BlockedFor(ctx context.Context, clientID string) (time.Duration, error) {
	if clientID == "" {
		return 0, fmt.Errorf("ratelimit: blocked for: %w", ErrEmptyClientID)
	}
	// Run, not RunRO: a read-only script may go to a replica, which may
	// lag behind the primary.
	micros, err := blockedScript.Run(ctx, l.rdb, []string{l.keys(clientID)[blockedKey]}, l.now()).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: blocked for client %q: %w", clientID, err)
	}
	return time.Duration(micros) * time.Microsecond, nil
}

// spread is a random number in [0, n), or 0 when n is not positive.
func spread(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n) // #nosec G404 -- spreading slots in time needs no cryptographic randomness
}

// now is the time of a decision, in microseconds of Options.Clock.
func (l *Limiter) now() int64 {
	return l.opts.Clock.Now().UnixMicro()
}

// The client's keys, in the order the booking scripts take them (KEYS[1..5]
// of reserve.lua).
const (
	stampsKey = iota
	blockedKey
	ticketsKey
	primaryKey
	urgentKey
)

// keys returns the client's keys: its stamp set, block key, ticket set,
// primary's replication ID (fence.lua) and urgent ticket set.
func (l *Limiter) keys(clientID string) []string {
	return []string{l.clientKey(clientID, "stamps"), l.clientKey(clientID, "blocked"), l.clientKey(clientID, "tickets"),
		l.clientKey(clientID, "primary"), l.clientKey(clientID, "urgent")}
}

// fenceFor is the client's fence after a primary change: the fence, and a
// part of half a span that depends on the client alone. Every client's
// fence starts at about the same moment; ending together, each would send
// a burst of Limit at once, and so many requests at one instant spread
// their arrivals wider than the margin on a busy machine. Staggered, the
// bursts follow each other over half a span.
func (l *Limiter) fenceFor(clientID string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(clientID)) // a hash.Hash never fails to write
	return l.fence + int64(h.Sum32())%max(l.span/2, 1)
}

// clientKey names one of the client's keys. The client ID is a Redis
// Cluster hash tag, so all of a client's keys live on one node and one
// script can use them together.
func (l *Limiter) clientKey(clientID, name string) string {
	return l.opts.KeyPrefix + "{" + clientID + "}:" + name
}
