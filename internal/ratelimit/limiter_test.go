package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// The first Limit reservations go at once; each later one waits exactly
// until the stamp Limit places back plus Window plus Margin.
func TestReserveWaitsUntilOldestStampPlusSpan(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	const span = 320 * time.Millisecond
	l := newLimiter(t, rdb, Options{Limit: 3, Window: 300 * time.Millisecond, Margin: 20 * time.Millisecond, MaxInPlaceWait: time.Second})

	start := time.Now()
	for range 3 {
		d, err := l.Reserve(t.Context(), "c")
		require.NoError(t, err)
		require.Zero(t, d)
	}
	d, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	elapsed := time.Since(start)
	// The fourth decision came between 0 and elapsed after the first.
	require.LessOrEqual(t, d, span)
	require.GreaterOrEqual(t, d, span-elapsed-time.Millisecond)

	_, err = l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	s := stampScores(t, rdb, l, "c")
	require.Len(t, s, 5)
	require.Equal(t, s[0]+span.Microseconds(), s[3], "4th stamp is exactly one span after the 1st")
	require.Equal(t, s[1]+span.Microseconds(), s[4], "5th stamp is exactly one span after the 2nd")
}

// One client's exhausted budget does not delay another client.
func TestClientsHaveSeparateBudgets(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	l := newLimiter(t, rdb, Options{Limit: 2, Window: 10 * time.Second, MaxInPlaceWait: 20 * time.Second})

	for range 3 {
		_, err := l.Reserve(t.Context(), "a")
		require.NoError(t, err)
	}
	d, err := l.Reserve(t.Context(), "b")
	require.NoError(t, err)
	require.Zero(t, d)
}

// Beyond MaxInPlaceWait, Reserve and Wait refuse with *NoBudgetError and
// book nothing: the next caller still gets the same slot.
func TestNoBudgetBooksNothing(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	opts := Options{Limit: 2, Window: 2 * time.Second, MaxInPlaceWait: 100 * time.Millisecond}
	l := newLimiter(t, rdb, opts)

	for range 2 {
		_, err := l.Reserve(t.Context(), "c")
		require.NoError(t, err)
	}
	_, err := l.Reserve(t.Context(), "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.Equal(t, "c", nb.ClientID)
	require.Greater(t, nb.Wait, time.Second)
	require.LessOrEqual(t, nb.Wait, opts.Window)
	require.Contains(t, err.Error(), `client "c"`)
	require.ErrorAs(t, l.Wait(t.Context(), "c"), &nb)
	require.Len(t, stampScores(t, rdb, l, "c"), 2)

	opts.MaxInPlaceWait = 5 * time.Second
	patient := newLimiter(t, rdb, opts)
	_, err = patient.Reserve(t.Context(), "c")
	require.NoError(t, err)
	s := stampScores(t, rdb, l, "c")
	require.Len(t, s, 3)
	require.Equal(t, s[0]+opts.Window.Microseconds(), s[2], "the refused calls took no slot")
}

// A holder sent away gets a ticket: its slot is booked at once, so the
// holders sent away together line up one span apart per Limit, and each
// claims its own slot when it asks again, even if others asked meanwhile.
func TestHoldersSentAwayKeepTheirPlace(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	opts := Options{Limit: 2, Window: time.Second, MaxInPlaceWait: 100 * time.Millisecond, BookAhead: 10 * time.Second}
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
		require.Equal(t, nb.Wait-opts.MaxInPlaceWait/2, nb.ComeBackIn, "back half an in-place wait early")
		waits = append(waits, nb.Wait)
	}
	const tolerance = 30 * time.Millisecond
	for i, want := range []time.Duration{time.Second, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second} {
		require.InDelta(t, float64(want), float64(waits[i]), float64(tolerance), "ticket %d: %v", i, waits)
	}
	require.Len(t, stampScores(t, rdb, l, "c"), 7, "tickets are bookings")

	// An anonymous caller cannot come back for a ticket: it books nothing
	// and sees the slot after the last ticket.
	_, err := l.Reserve(t.Context(), "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.False(t, nb.Booked)
	require.InDelta(t, float64(3*time.Second), float64(nb.Wait), float64(tolerance))

	// Asking again before its slot is in reach keeps the ticket.
	_, err = l.Reserve(WithHolder(t.Context(), "task0"), "c")
	require.ErrorAs(t, err, &nb)
	require.True(t, nb.Booked)
	require.InDelta(t, float64(waits[0]), float64(nb.Wait), float64(tolerance), "the same slot")
	require.Len(t, stampScores(t, rdb, l, "c"), 7, "asking again books nothing new")

	// Within reach, the holder claims its own slot and waits for it.
	time.Sleep(waits[0] - opts.MaxInPlaceWait/2)
	d, err := l.Reserve(WithHolder(t.Context(), "task0"), "c")
	require.NoError(t, err)
	require.LessOrEqual(t, d, opts.MaxInPlaceWait)
	require.Len(t, stampScores(t, rdb, l, "c"), 7, "the claim books nothing new")
	// The ticket is spent: asking again books a new slot at the end.
	_, err = l.Reserve(WithHolder(t.Context(), "task0"), "c")
	require.ErrorAs(t, err, &nb)
	require.Greater(t, nb.Wait, 2*time.Second)
}

// A holder whose slot lies beyond BookAhead is sent away without a ticket,
// told to come back when the free slot it saw is half of BookAhead away.
func TestNoTicketBeyondBookAhead(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	opts := Options{Limit: 1, Window: time.Second, MaxInPlaceWait: 100 * time.Millisecond, BookAhead: 1500 * time.Millisecond}
	l := newLimiter(t, rdb, opts)
	ctx := WithHolder(t.Context(), "t")
	_, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	_, err = l.Reserve(WithHolder(t.Context(), "first"), "c")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb)
	require.True(t, nb.Booked, "1 s ahead is within BookAhead")

	_, err = l.Reserve(ctx, "c")
	require.ErrorAs(t, err, &nb)
	require.False(t, nb.Booked, "2 s ahead is beyond BookAhead")
	require.Equal(t, nb.Wait-opts.BookAhead/2, nb.ComeBackIn)
	require.Len(t, stampScores(t, rdb, l, "c"), 2)
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

// A block that covers a ticket's slot voids the ticket: the holder's next
// ask books a slot after the block instead.
func TestBlockVoidsTicketsItCovers(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	l := newLimiter(t, rdb, Options{Limit: 1, Window: time.Second, MaxInPlaceWait: 100 * time.Millisecond, BookAhead: 10 * time.Second})
	ctx, nb := ticketAfterOneSend(t, l)
	require.Less(t, nb.Wait, 1100*time.Millisecond)

	require.NoError(t, l.Block(t.Context(), "c", 5*time.Second))
	_, err := l.Reserve(ctx, "c")
	require.ErrorAs(t, err, &nb)
	require.True(t, nb.Booked)
	require.Greater(t, nb.Wait, 4900*time.Millisecond, "the new ticket comes after the block")
}

// A holder back too late for its ticket, with nothing booked after it,
// sends at once: its stamp moves to the present rather than leave a slot
// spent for nothing and queue the send behind every later booking.
func TestWaitMovesALateSlotThatStillFits(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	obs := &recorder{}
	l := newLimiter(t, rdb, Options{Limit: 1, Window: 200 * time.Millisecond, Margin: 40 * time.Millisecond,
		MaxInPlaceWait: 50 * time.Millisecond, BookAhead: 5 * time.Second, Observer: obs})
	ctx, nb := ticketAfterOneSend(t, l)
	booked := stampScores(t, rdb, l, "c")

	time.Sleep(nb.Wait + 150*time.Millisecond)
	require.NoError(t, l.Wait(ctx, "c"))
	// The first send has aged out of the set by now.
	s := stampScores(t, rdb, l, "c")
	require.Len(t, s, 1, "the late slot moved; none was added")
	require.GreaterOrEqual(t, s[0]-booked[1], (150 * time.Millisecond).Microseconds(), "the stamp is where the send is")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Empty(t, obs.gaveUp)
}

// A holder back too late for a slot that a later booking leaves no room to
// move gives the slot up (it stays counted) rather than send outside the
// margin, and books another, after that booking.
func TestWaitGivesUpALateSlotThatNoLongerFits(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	obs := &recorder{}
	const span = 240 * time.Millisecond
	l := newLimiter(t, rdb, Options{Limit: 1, Window: 200 * time.Millisecond, Margin: 40 * time.Millisecond,
		MaxInPlaceWait: 50 * time.Millisecond, BookAhead: 5 * time.Second, Observer: obs})
	ctx, nb := ticketAfterOneSend(t, l)
	_, err := l.Reserve(WithHolder(t.Context(), "next"), "c")
	require.ErrorAs(t, err, new(*NoBudgetError), "a second holder books the slot a span after the first's")

	time.Sleep(nb.Wait + 150*time.Millisecond)
	err = l.Wait(ctx, "c")
	require.ErrorAs(t, err, &nb, "the late ticket is not used; the next slot is a span after the last booking")
	require.True(t, nb.Booked)
	// The first send has aged out of the set by now.
	s := stampScores(t, rdb, l, "c")
	require.Len(t, s, 3, "the slot given up stays counted")
	for i := 1; i < len(s); i++ {
		require.Equal(t, s[i-1]+span.Microseconds(), s[i], "every stamp is a span after the one before")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Len(t, obs.gaveUp, 1, "the observer hears of the slot given up")
	require.Greater(t, obs.gaveUp[0], 100*time.Millisecond)
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
	l := newLimiter(t, rdb, Options{Limit: 1, Window: time.Minute, Observer: obs})

	_, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	_, err = l.Reserve(t.Context(), "c")
	require.ErrorAs(t, err, new(*NoBudgetError))

	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Equal(t, []time.Duration{0}, obs.waited)
	require.Len(t, obs.noBudget, 1)
	require.Greater(t, obs.noBudget[0], 59*time.Second)
}

// Every method refuses an empty client ID.
func TestEmptyClientIDIsRefused(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, testenv.Redis(t), Options{Limit: 1, Window: time.Second})

	_, err := l.Reserve(t.Context(), "")
	require.ErrorIs(t, err, ErrEmptyClientID)
	require.ErrorIs(t, l.Wait(t.Context(), ""), ErrEmptyClientID)
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
