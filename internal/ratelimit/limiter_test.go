package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// The first Limit reservations go at once; each later one waits exactly
// until the stamp Limit places back plus Window plus Margin.
func TestReserveWaitsUntilOldestStampPlusSpan(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	const span = 320 * time.Millisecond
	l := newLimiter(t, rdb, Options{Limit: 3, Window: 300 * time.Millisecond, Margin: 20 * time.Millisecond,
		MaxInPlaceWait: time.Second, Clock: clk})
	t0 := clk.Now().UnixMicro()

	for i := range 3 {
		d, err := l.Reserve(t.Context(), "c")
		require.NoError(t, err)
		require.Zero(t, d)
		clk.Add(10 * time.Millisecond * time.Duration(i+1))
	}
	// Now t0+60ms: the first stamp (t0) leaves room at t0+span.
	d, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	require.Equal(t, span-60*time.Millisecond, d)
	d, err = l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	require.Equal(t, span-60*time.Millisecond+10*time.Millisecond, d, "a span after the second stamp")
	require.Equal(t, []int64{t0, t0 + 10_000, t0 + 30_000, t0 + micros(span), t0 + 10_000 + micros(span)},
		stampScores(t, rdb, l, "c"))
}

// A client's sends are spaced half a margin apart even when its budget
// would let them go at one instant, so that they do not queue behind each
// other on their way; the span rule still sets the pace.
func TestSendsAreSpacedHalfAMargin(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	l := newLimiter(t, rdb, Options{Limit: 3, Window: time.Second, Margin: 40 * time.Millisecond,
		MaxInPlaceWait: 2 * time.Second, Clock: clk})
	var waits []time.Duration
	for range 4 {
		d, err := l.Reserve(t.Context(), "c")
		require.NoError(t, err)
		waits = append(waits, d)
	}
	require.Equal(t, []time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond, 1040 * time.Millisecond}, waits)
	due, err := l.Book(t.Context(), "c", nil, []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{1060*time.Millisecond - l.returnLead(), 1080*time.Millisecond - l.returnLead()}, due)
}

// One client's exhausted budget does not delay another client.
func TestClientsHaveSeparateBudgets(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	l := newLimiter(t, rdb, Options{Limit: 2, Window: 10 * time.Second, MaxInPlaceWait: 20 * time.Second, Clock: newManualClock()})

	for range 3 {
		_, err := l.Reserve(t.Context(), "a")
		require.NoError(t, err)
	}
	d, err := l.Reserve(t.Context(), "b")
	require.NoError(t, err)
	require.Zero(t, d)
}

// Beyond MaxInPlaceWait, an anonymous caller is refused with
// *NoBudgetError and books nothing: the next caller still gets the slot.
func TestAnonymousRefusalBooksNothing(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	opts := Options{Limit: 2, Window: 2 * time.Second, MaxInPlaceWait: 100 * time.Millisecond, Clock: clk}
	l := newLimiter(t, rdb, opts)

	for range 2 {
		_, err := l.Reserve(t.Context(), "c")
		require.NoError(t, err)
	}
	clk.Add(500 * time.Millisecond)
	_, err := l.Reserve(t.Context(), "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.Equal(t, "c", nb.ClientID)
	require.Equal(t, 1500*time.Millisecond, nb.Wait)
	require.False(t, nb.Booked)
	require.Contains(t, err.Error(), `client "c"`)
	require.ErrorAs(t, l.Wait(t.Context(), "c"), &nb)
	require.Len(t, stampScores(t, rdb, l, "c"), 2, "the refused calls took no slot")
}

// A holder sent away gets a ticket: its slot is booked at once, so the
// holders sent away together line up one span apart per Limit, and each
// claims its own slot when it asks again, even if others asked meanwhile.
func TestHoldersSentAwayKeepTheirPlace(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	opts := Options{Limit: 2, Window: time.Second, MaxInPlaceWait: 100 * time.Millisecond, Clock: clk}
	l := newLimiter(t, rdb, opts)
	for range 2 {
		_, err := l.Reserve(t.Context(), "c")
		require.NoError(t, err)
	}
	var waits []time.Duration
	for i := range 5 {
		_, err := l.Reserve(WithHolder(t.Context(), fmt.Sprint("task", i)), "c")
		var nb *NoBudgetError
		require.ErrorAs(t, err, &nb)
		require.True(t, nb.Booked, "holder %d gets a ticket", i)
		require.Equal(t, nb.Wait-l.returnLead(), nb.ComeBackIn, "back a lead before its slot")
		waits = append(waits, nb.Wait)
	}
	require.Equal(t, []time.Duration{time.Second, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second}, waits)
	require.Len(t, stampScores(t, rdb, l, "c"), 7, "tickets are bookings")

	// Asking again before its slot is in reach keeps the ticket.
	_, err := l.Reserve(WithHolder(t.Context(), "task0"), "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.True(t, nb.Booked)
	require.Equal(t, waits[0], nb.Wait, "the same slot")
	require.Len(t, stampScores(t, rdb, l, "c"), 7, "asking again books nothing new")

	// Within reach, the holder claims its own slot and waits for it.
	clk.Add(waits[0] - l.returnLead())
	d, err := l.Reserve(WithHolder(t.Context(), "task0"), "c")
	require.NoError(t, err)
	require.Equal(t, l.returnLead(), d)
	require.Len(t, stampScores(t, rdb, l, "c"), 7, "the claim books nothing new")
	// The ticket is spent: asking again books a new slot at the end.
	_, err = l.Reserve(WithHolder(t.Context(), "task0"), "c")
	require.ErrorAs(t, err, &nb)
	require.Equal(t, 3*time.Second-(waits[0]-l.returnLead()), nb.Wait)
}

// Book lines holders up in order by the exact rule, as their tickets, and
// tells each how long to stay out of the queue; booking them again books
// nothing new; each holder then claims its own slot.
func TestBookLinesUpHoldersInOrder(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	opts := Options{Limit: 2, Window: time.Second, MaxInPlaceWait: 3 * time.Second, Clock: clk}
	l := newLimiter(t, rdb, opts)
	lead := l.returnLead()
	require.Equal(t, time.Second, lead)
	require.Equal(t, 500*time.Millisecond, l.startLead())

	holders := []string{"p2", "p3", "s1", "s2", "s3"}
	due, err := l.Book(t.Context(), "c", nil, holders)
	require.NoError(t, err)
	// No slot sooner than the start lead: the first two at 0.5 s, then a
	// span on; each is due back the return lead before its slot.
	require.Equal(t, []time.Duration{0, 0, 500 * time.Millisecond, 500 * time.Millisecond, 1500 * time.Millisecond}, due)
	again, err := l.Book(t.Context(), "c", nil, holders)
	require.NoError(t, err)
	require.Equal(t, due, again, "a holder keeps its ticket")
	require.Len(t, stampScores(t, rdb, l, "c"), 5)

	// s3 comes back when it was told to and claims its own slot, although
	// an anonymous caller took the other slot at 2.5 s in between.
	clk.Add(due[4])
	d, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	require.Equal(t, 2500*time.Millisecond-due[4], d, "the free slot is the one the tickets left at 2.5 s")
	d, err = l.Reserve(WithHolder(t.Context(), "s3"), "c")
	require.NoError(t, err)
	require.Equal(t, lead, d)

	none, err := l.Book(t.Context(), "c", nil, nil)
	require.NoError(t, err)
	require.Empty(t, none)
}

// A task due back the return lead before its slot may be handed back by
// the queue up to a second early (asynq schedules to the whole second),
// and still finds its slot within the in-place wait: it is not sent away
// again. A longer in-place wait buys a longer lead, up to a second, which
// is the time a busy queue has to hand the task out.
func TestReturnLeadLeavesRoomForAnEarlyReturn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ wait, lead time.Duration }{
		{1200 * time.Millisecond, 100 * time.Millisecond},
		{1500 * time.Millisecond, 250 * time.Millisecond},
		{2 * time.Second, 750 * time.Millisecond},
		{3 * time.Second, time.Second},
		{10 * time.Second, time.Second},
	} {
		t.Run(c.wait.String(), func(t *testing.T) {
			t.Parallel()
			rdb := testenv.Redis(t)
			clk := newManualClock()
			l := newLimiter(t, rdb, Options{Limit: 1, Window: 10 * time.Second, MaxInPlaceWait: c.wait, Clock: clk})
			require.Equal(t, c.lead, l.returnLead())
			due, err := l.Book(t.Context(), "c", nil, []string{"a", "b"})
			require.NoError(t, err)
			clk.Add(due[1] - queueGranularity)
			d, err := l.Reserve(WithHolder(t.Context(), "b"), "c")
			require.NoError(t, err, "handed back a second early, b still waits in place")
			require.Equal(t, c.lead+queueGranularity, d)
		})
	}
}

// Book makes the first slot of a fan-out later by a part of the gap, so
// that runs started together do not send at the same instants; the slots
// after it keep its offset, a gap apart within a window and a span after
// the Limit-th stamp before them, so neither the fan-out's sends nor a
// client's windows drift later.
func TestBookSpreadsOnlyTheFirstFreeSlot(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	l := newLimiter(t, rdb, Options{Limit: 3, Window: time.Second, Margin: 200 * time.Millisecond,
		MaxInPlaceWait: 1500 * time.Millisecond, Clock: clk})
	l.spread = func(n int64) int64 { return n - 1 }
	span := micros(1200 * time.Millisecond)
	_, err := l.Book(t.Context(), "c", nil, []string{"a", "b", "c", "d", "e", "f", "g"})
	require.NoError(t, err)
	s := stampScores(t, rdb, l, "c")
	require.Len(t, s, 7)
	earliest := clk.Now().UnixMicro() + micros(l.startLead())
	require.Equal(t, earliest+l.gap-1, s[0], "the first slot is spread")
	for i := 1; i < 3; i++ {
		require.Equal(t, s[i-1]+l.gap, s[i], "slot %d lies a gap after the one before", i)
	}
	for i := 3; i < len(s); i++ {
		require.Equal(t, s[i-3]+span, s[i], "slot %d lies exactly a span after the one three before", i)
	}
}

// An urgent holder (a page) that needs a slot again takes the earliest slot
// booked for work that is not urgent and is not yet due out of the queue;
// that work books anew, at the end of the line. A holder that is not
// urgent takes the end of the line itself.
func TestUrgentHolderTakesTheEarliestOtherTicket(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	l := newLimiter(t, rdb, Options{Limit: 1, Window: time.Second, MaxInPlaceWait: 100 * time.Millisecond, Clock: clk})
	lead := l.returnLead()
	due, err := l.Book(t.Context(), "c", []string{"p2"}, []string{"s1", "s2", "s3"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, due)

	clk.Add(lead)
	page := WithUrgentHolder(t.Context(), "p2")
	d, err := l.Reserve(page, "c")
	require.NoError(t, err)
	require.Zero(t, d, "the page claims its slot")
	// Its request failed; it asks again, and takes s1's slot.
	_, err = l.Reserve(page, "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.True(t, nb.Booked)
	require.Equal(t, time.Second, nb.Wait)

	_, err = l.Reserve(WithHolder(t.Context(), "s1"), "c")
	require.ErrorAs(t, err, &nb)
	require.Equal(t, 4*time.Second, nb.Wait, "s1 lost its slot and goes to the end of the line")
	_, err = l.Reserve(WithHolder(t.Context(), "s9"), "c")
	require.ErrorAs(t, err, &nb)
	require.Equal(t, 5*time.Second, nb.Wait, "a holder that is not urgent takes no one's slot")
	require.Len(t, stampScores(t, rdb, l, "c"), 6, "taking a slot books nothing new")

	clk.Add(time.Second - lead)
	d, err = l.Reserve(page, "c")
	require.NoError(t, err)
	require.Equal(t, lead, d, "the page claims the slot it took")
}

// A block that covers a ticket's slot voids the ticket: the holder's next
// ask books a slot after the block instead; Book does the same.
func TestBlockVoidsTicketsItCovers(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	l := newLimiter(t, rdb, Options{Limit: 1, Window: time.Second, MaxInPlaceWait: 100 * time.Millisecond, Clock: clk})
	due, err := l.Book(t.Context(), "c", nil, []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{0, time.Second}, due, "slots at the lead (50 ms) and a second on")

	require.NoError(t, l.Block(t.Context(), "c", 5*time.Second))
	_, err = l.Reserve(WithHolder(t.Context(), "b"), "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.True(t, nb.Booked)
	require.Equal(t, 5*time.Second, nb.Wait, "the new ticket comes when the block ends")
	due, err = l.Book(t.Context(), "c", nil, []string{"a"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{6*time.Second - l.returnLead()}, due, "a's ticket was void too")
}

// ticketAfterOneSend spends client c's only slot of the window, then has
// holder "t" ask: it must get a ticket for the next one. It returns the
// holder's context and the refusal carrying the ticket.
func ticketAfterOneSend(t *testing.T, l *Limiter) (context.Context, *NoBudgetError) {
	t.Helper()
	ctx := WithHolder(t.Context(), "t")
	_, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	_, err = l.Reserve(ctx, "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.True(t, nb.Booked)
	return ctx, nb
}

// A holder back too late for its ticket, with nothing booked after it,
// sends at once: its stamp moves to the present rather than leave a slot
// spent for nothing and queue the send behind every later booking.
func TestWaitMovesALateSlotThatStillFits(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	obs := &recorder{}
	clk := newManualClock()
	l := newLimiter(t, rdb, Options{Limit: 1, Window: 200 * time.Millisecond, Margin: 40 * time.Millisecond,
		MaxInPlaceWait: 50 * time.Millisecond, Observer: obs, Clock: clk})
	ctx, nb := ticketAfterOneSend(t, l)

	clk.Add(nb.Wait + 150*time.Millisecond)
	require.NoError(t, l.Wait(ctx, "c"))
	s := stampScores(t, rdb, l, "c")
	require.Equal(t, []int64{clk.Now().UnixMicro() + l.gap}, s, "the late slot moved to a gap after the present; none was added")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Empty(t, obs.gaveUp)
}

// A holder back late for a slot that a later ticket leaves no room to
// move sends at once all the same when it is late by less than a slot's
// share of a span: the later ticket moves on by as much, which costs the
// client that lateness instead of a slot.
func TestWaitMovesALateSlotWithTheTicketsAfterIt(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	obs := &recorder{}
	clk := newManualClock()
	const span = 240 * time.Millisecond
	l := newLimiter(t, rdb, Options{Limit: 1, Window: 200 * time.Millisecond, Margin: 40 * time.Millisecond,
		MaxInPlaceWait: 50 * time.Millisecond, Observer: obs, Clock: clk})
	t0 := clk.Now().UnixMicro()
	ctx, nb := ticketAfterOneSend(t, l)
	next := WithHolder(t.Context(), "next")
	_, err := l.Reserve(next, "c")
	require.ErrorAs(t, err, new(*NoBudgetError), "a second holder books the slot a span after the first's")

	const late = 150 * time.Millisecond
	clk.Add(nb.Wait + late)
	require.NoError(t, l.Wait(ctx, "c"), "the late holder sends at once")
	gap := time.Duration(l.gap) * time.Microsecond
	require.Equal(t, []int64{t0 + micros(span+late+gap), t0 + micros(2*span+late+gap)}, stampScores(t, rdb, l, "c"),
		"the late slot moved to a gap after the present and the later ticket as far; nothing was added")
	clk.Add(span)
	d, err := l.Reserve(next, "c")
	require.NoError(t, err)
	require.Equal(t, gap, d, "the later holder claims its moved ticket")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Empty(t, obs.gaveUp)
}

// Late holders that come back together are not sent as one burst: each
// moved slot lies at least a gap after the send moved before it.
func TestLateHoldersBackTogetherAreSpacedAGap(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	l := newLimiter(t, rdb, Options{Limit: 3, Window: time.Second, Margin: 40 * time.Millisecond,
		MaxInPlaceWait: 100 * time.Millisecond, Clock: clk})
	gap := time.Duration(l.gap) * time.Microsecond
	_, err := l.Book(t.Context(), "c", nil, []string{"a", "b"})
	require.NoError(t, err)
	clk.Add(l.returnLead() + gap + 30*time.Millisecond)
	now := clk.Now().UnixMicro()
	var waits []time.Duration
	for _, h := range []string{"a", "b"} {
		d, stamp, err := l.reserve(WithHolder(t.Context(), h), "c")
		require.NoError(t, err)
		require.Less(t, d, -20*time.Millisecond, "%s is late by more than half the margin", h)
		wait, ok, err := l.restamp(t.Context(), "c", stamp)
		require.NoError(t, err)
		require.True(t, ok, "%s's slot moved", h)
		waits = append(waits, wait)
	}
	require.Equal(t, []time.Duration{0, gap}, waits)
	require.Equal(t, []int64{now + l.gap, now + 2*l.gap}, stampScores(t, rdb, l, "c"), "each stamp lies a gap after its send")
}

// However late the holders of a run's tickets come, and whatever their
// late slots' moves do to the tickets after them, every L+1 stamps in
// order stay at least a span apart: the limiter's whole guarantee.
func TestLateHoldersKeepEveryGroupASpanApart(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	const limit = 3
	opts := Options{Limit: limit, Window: 100 * time.Millisecond, Margin: 20 * time.Millisecond,
		MaxInPlaceWait: 40 * time.Millisecond, Clock: clk}
	l := newLimiter(t, rdb, opts)
	holders := make([]string, 30)
	for i := range holders {
		holders[i] = fmt.Sprintf("h%d", i)
	}
	_, err := l.Book(t.Context(), "c", nil, holders)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- a reproducible test sequence
	var sent []int64                   // the stamp each send (or slot given up) holds
	lateOnes, moved := 0, 0
	for _, h := range holders {
		ticket, err := rdb.ZScore(t.Context(), l.keys("c")[ticketsKey], h).Result()
		require.NoError(t, err)
		// One in three back 10 to 40 ms late (a slot's share of the span
		// is 40 ms), the others in time, so that they send at the slots
		// the late ones moved. The clock never goes back.
		late := time.Duration(rng.Int64N(int64(opts.Margin / 2)))
		if rng.IntN(3) == 0 {
			late = opts.Margin/2 + time.Duration(rng.Int64N(int64(30*time.Millisecond)))
		}
		at := time.UnixMicro(int64(ticket)).Add(late)
		clk.Add(max(at.Sub(clk.Now()), 0))
		d, stamp, err := l.reserve(WithHolder(t.Context(), h), "c")
		require.NoError(t, err)
		require.LessOrEqual(t, d, time.Duration(0), "%s comes back on time or late", h)
		if -d > opts.Margin/2 {
			lateOnes++
			wait, ok, err := l.restamp(t.Context(), "c", stamp)
			require.NoError(t, err)
			if ok {
				moved++
				stamp = clk.Now().Add(wait).UnixMicro() + l.gap // a moved stamp lies a gap after its send
			}
		}
		sent = append(sent, stamp)
	}
	require.Positive(t, lateOnes)
	require.Equal(t, lateOnes, moved, "every late slot moved, with the tickets after it where they left no room")
	slices.Sort(sent)
	span := micros(opts.Window + opts.Margin)
	for i := limit; i < len(sent); i++ {
		require.GreaterOrEqual(t, sent[i]-sent[i-limit], span, "sends %d and %d are %d apart in order", i-limit, i, limit)
	}
}

// A holder back later than a slot's share of a span, for a slot that a
// later booking leaves no room to move, gives the slot up (it stays
// counted) rather than send outside the margin or hold every later
// booking back that long, and books another, after that booking.
func TestWaitGivesUpALateSlotThatNoLongerFits(t *testing.T) {
	t.Parallel()
	const ms = int64(time.Millisecond / time.Microsecond)
	// A slot's share of the span is 120 ms; a send waits 50 ms in place.
	c := lateHolderWithTicketsAfterIt(t, 50*time.Millisecond)
	rdb, l, obs, clk, t0, late, nb := c.rdb, c.l, c.obs, c.clk, c.t0, c.late, c.nb

	// 150 ms late: moved to the present, the slot would share a span with
	// n1's and n2's; moving them on by 150 ms costs more than the slot.
	clk.Add(nb.Wait + 150*time.Millisecond)
	err := l.Wait(late, "c")
	require.ErrorAs(t, err, &nb, "the late ticket is not used; the next slot is a span after the last booking but one")
	require.True(t, nb.Booked)
	// The first two sends have aged out of the set by now.
	require.Equal(t, []int64{t0 + 240*ms, t0 + 260*ms, t0 + 480*ms, t0 + 500*ms, t0 + 720*ms}, stampScores(t, rdb, l, "c"),
		"the slot given up stays counted, and no later booking moved")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Equal(t, []time.Duration{150 * time.Millisecond}, obs.gaveUp, "the observer hears of the slot given up")
}

// A holder back later than a slot's share of a span but within the
// in-place wait, for a slot that a later booking leaves no room to move,
// sends at once all the same: such lateness is a busy queue's, and the
// tickets a span after it move on by as much, which costs the client less
// than the slot would when its last window is full.
func TestWaitMovesASlotLateWithinTheInPlaceWait(t *testing.T) {
	t.Parallel()
	const ms = int64(time.Millisecond / time.Microsecond)
	// A slot's share of the span is 120 ms; 150 ms late is within the
	// 200 ms a send may wait in place.
	c := lateHolderWithTicketsAfterIt(t, 200*time.Millisecond)
	rdb, l, obs, clk, t0, late, nb := c.rdb, c.l, c.obs, c.clk, c.t0, c.late, c.nb

	clk.Add(nb.Wait + 150*time.Millisecond)
	require.NoError(t, l.Wait(late, "c"), "the late holder sends at once")
	// Its stamp lies a gap (20 ms) after the send, 170 ms after its slot;
	// n2 and n3, a span after it, move on by as much; n1 needs not.
	require.Equal(t, []int64{t0 + 260*ms, t0 + 410*ms, t0 + 650*ms, t0 + 670*ms}, stampScores(t, rdb, l, "c"),
		"the late slot and the tickets a span after it moved; nothing was added")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Empty(t, obs.gaveUp)
}

// lateCase is a client c whose holder "late" has a ticket with tickets
// booked after it, on a limiter with a manual clock.
type lateCase struct {
	rdb  *redis.Client
	l    *Limiter
	obs  *recorder
	clk  *testenv.Clock
	t0   int64
	late context.Context
	nb   *NoBudgetError
}

// lateHolderWithTicketsAfterIt sends twice for client c (Limit 2, span
// 240 ms, gap 20 ms, the given in-place wait), then books the holder
// "late" the slot a span after the first send and holders n1-n3 the slots
// after it; nb is the refusal that told late when to come back.
func lateHolderWithTicketsAfterIt(t *testing.T, inPlace time.Duration) lateCase {
	t.Helper()
	const ms = int64(time.Millisecond / time.Microsecond)
	c := lateCase{rdb: testenv.Redis(t), obs: &recorder{}, clk: newManualClock()}
	c.l = newLimiter(t, c.rdb, Options{Limit: 2, Window: 200 * time.Millisecond, Margin: 40 * time.Millisecond,
		MaxInPlaceWait: inPlace, Observer: c.obs, Clock: c.clk})
	c.t0 = c.clk.Now().UnixMicro()
	for range 2 {
		_, err := c.l.Reserve(t.Context(), "c")
		require.NoError(t, err)
	}
	c.late = WithHolder(t.Context(), "late")
	_, err := c.l.Reserve(c.late, "c")
	require.ErrorAs(t, err, &c.nb)
	for _, h := range []string{"n1", "n2", "n3"} {
		_, err := c.l.Reserve(WithHolder(t.Context(), h), "c")
		require.ErrorAs(t, err, new(*NoBudgetError), "holder %s books a later slot", h)
	}
	t0 := c.t0
	require.Equal(t, []int64{t0, t0 + 20*ms, t0 + 240*ms, t0 + 260*ms, t0 + 480*ms, t0 + 500*ms}, stampScores(t, c.rdb, c.l, "c"))
	return c
}

// A Wait whose context ends while it sleeps returns the context's error,
// and its slot stays booked.
func TestWaitReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Cancel as soon as the slot is booked, before the sleep starts.
	obs := &recorder{onWaited: func(d time.Duration) {
		if d > 0 {
			cancel()
		}
	}}
	l := newLimiter(t, rdb, Options{Limit: 1, Window: 10 * time.Second, MaxInPlaceWait: 20 * time.Second, Observer: obs})

	require.NoError(t, l.Wait(ctx, "c"))
	err := l.Wait(ctx, "c")
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, stampScores(t, rdb, l, "c"), 2)
}

// The observer hears every booking and every refusal.
func TestObserverSeesDecisions(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	obs := &recorder{}
	l := newLimiter(t, rdb, Options{Limit: 1, Window: time.Minute, Observer: obs, Clock: newManualClock()})

	_, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	_, err = l.Reserve(t.Context(), "c")
	require.ErrorAs(t, err, new(*NoBudgetError))

	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Equal(t, []time.Duration{0}, obs.waited)
	require.Equal(t, []time.Duration{time.Minute}, obs.noBudget)
}

// Every method refuses an empty client ID.
func TestEmptyClientIDIsRefused(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, testenv.Redis(t), Options{Limit: 1, Window: time.Second})

	_, err := l.Reserve(t.Context(), "")
	require.ErrorIs(t, err, ErrEmptyClientID)
	require.ErrorIs(t, l.Wait(t.Context(), ""), ErrEmptyClientID)
	_, err = l.Book(t.Context(), "", nil, []string{"a"})
	require.ErrorIs(t, err, ErrEmptyClientID)
	require.ErrorIs(t, l.Block(t.Context(), "", time.Second), ErrEmptyClientID)
	_, err = l.BlockedFor(t.Context(), "")
	require.ErrorIs(t, err, ErrEmptyClientID)
}

// A Redis failure comes back as an error saying what failed, for whom.
func TestRedisErrorsAreWrapped(t *testing.T) {
	t.Parallel()
	rdb := otherProcess(t, testenv.Redis(t))
	l := newLimiter(t, rdb, Options{Limit: 1, Window: time.Second})
	require.NoError(t, rdb.Close())

	_, err := l.Reserve(t.Context(), "c")
	require.ErrorContains(t, err, `ratelimit: reserve for client "c"`)
	_, err = l.Book(t.Context(), "c", nil, []string{"a"})
	require.ErrorContains(t, err, `ratelimit: book 1 sends for client "c"`)
	err = l.Block(t.Context(), "c", time.Second)
	require.ErrorContains(t, err, `ratelimit: block client "c"`)
	_, err = l.BlockedFor(t.Context(), "c")
	require.ErrorContains(t, err, `ratelimit: blocked for client "c"`)
	require.Error(t, errors.Unwrap(err))
}

type recorder struct {
	mu       sync.Mutex
	waited   []time.Duration
	noBudget []time.Duration
	gaveUp   []time.Duration
	onWaited func(time.Duration)
}

func (r *recorder) Waited(_ string, d time.Duration) {
	r.mu.Lock()
	r.waited = append(r.waited, d)
	r.mu.Unlock()
	if r.onWaited != nil {
		r.onWaited(d)
	}
}

func (r *recorder) GaveUp(_ string, late time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gaveUp = append(r.gaveUp, late)
}

func (r *recorder) NoBudget(_ string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.noBudget = append(r.noBudget, d)
}
