package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// requireSteps checks that delays go up by exactly step each.
func requireSteps(t *testing.T, delays []time.Duration, step time.Duration) {
	t.Helper()
	for i := 1; i < len(delays); i++ {
		require.Equal(t, step, delays[i]-delays[i-1], "delay %d", i)
	}
}

// A plan spreads sends one per span/Limit from the next free slot, and the
// next plan, from any process, continues where it ended.
func TestPaceSpreadsSendsAtTheBudgetsPace(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	opts := Options{Limit: 4, Window: 3 * time.Second, Margin: time.Second}
	const step = time.Second // (Window + Margin) / Limit
	first := newLimiter(t, rdb, opts)
	second := newLimiter(t, otherProcess(t, rdb), opts)

	start := time.Now()
	delays, err := first.Pace(t.Context(), "c", 0, 5)
	require.NoError(t, err)
	require.Len(t, delays, 5)
	require.Zero(t, delays[0], "a client with budget starts at once")
	requireSteps(t, delays, step)

	more, err := second.Pace(t.Context(), "c", 0, 2)
	require.NoError(t, err)
	elapsed := time.Since(start)
	require.LessOrEqual(t, more[0], 5*step)
	require.Greater(t, more[0], 5*step-elapsed-time.Millisecond, "the second plan starts where the first ended")
	requireSteps(t, more, step)

	other, err := first.Pace(t.Context(), "other", 0, 1)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{0}, other, "clients have separate plans")
	require.Empty(t, stampScores(t, rdb, first, "c"), "a plan books no slot")
}

// A plan starts no earlier than the client's next free slot: after its
// budget is spent, or after a block. Its sends are ready half of
// MaxInPlaceWait before their slots.
func TestPaceStartsAtTheNextFreeSlot(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	const (
		span = 4 * time.Second
		lead = time.Second // half of MaxInPlaceWait
	)
	l := newLimiter(t, rdb, Options{Limit: 2, Window: span, MaxInPlaceWait: 2 * lead})

	start := time.Now()
	for range 2 {
		_, err := l.Reserve(t.Context(), "spent")
		require.NoError(t, err)
	}
	require.NoError(t, l.Block(t.Context(), "blocked", 2*time.Minute))
	spent, err := l.Pace(t.Context(), "spent", 0, 1)
	require.NoError(t, err)
	blocked, err := l.Pace(t.Context(), "blocked", 0, 2)
	require.NoError(t, err)
	elapsed := time.Since(start)

	require.LessOrEqual(t, spent[0], span-lead)
	require.Greater(t, spent[0], span-lead-elapsed-time.Millisecond, "the plan starts when the budget has room again")
	require.LessOrEqual(t, blocked[0], 2*time.Minute-lead)
	require.Greater(t, blocked[0], 2*time.Minute-lead-elapsed-time.Millisecond, "the plan starts when the block ends")
	requireSteps(t, blocked, span/2)
}

// Pace refuses an empty client ID and plans nothing for n <= 0.
func TestPaceEdgeCases(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	l := newLimiter(t, rdb, Options{Limit: 1, Window: time.Second})
	_, err := l.Pace(t.Context(), "", 0, 1)
	require.ErrorIs(t, err, ErrEmptyClientID)
	delays, err := l.Pace(t.Context(), "c", 0, 0)
	require.NoError(t, err)
	require.Empty(t, delays)
	n, err := rdb.Exists(t.Context(), l.paceKey("c")).Result()
	require.NoError(t, err)
	require.Zero(t, n, "planning nothing writes nothing")
}

// Work sent away, or paced, is due back a lead before its slot such that a
// queue handing it back up to a whole second early (asynq) still finds the
// slot within MaxInPlaceWait, so it is not sent away again; a longer
// in-place wait does not hold a worker longer than two seconds.
func TestWorkIsDueBackWithinReachOfItsSlot(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	for maxWait, lead := range map[time.Duration]time.Duration{
		800 * time.Millisecond:  400 * time.Millisecond, // no lead avoids an early return; half keeps it early
		1500 * time.Millisecond: 500 * time.Millisecond,
		2 * time.Second:         time.Second,
		5 * time.Second:         time.Second,
	} {
		client := maxWait.String()
		l := newLimiter(t, rdb, Options{Limit: 1, Window: 10 * time.Second, MaxInPlaceWait: maxWait, BookAhead: time.Minute})
		_, err := l.Reserve(t.Context(), client)
		require.NoError(t, err)

		_, err = l.Reserve(WithHolder(t.Context(), "task"), client)
		var nb *NoBudgetError
		require.ErrorAs(t, err, &nb)
		require.True(t, nb.Booked)
		require.Equal(t, lead, nb.Wait-nb.ComeBackIn, "ticket, in-place wait %s", maxWait)

		paced, err := l.Pace(t.Context(), client, 0, 1)
		require.NoError(t, err)
		require.InDelta(t, float64(2*10*time.Second-lead), float64(paced[0]), float64(50*time.Millisecond),
			"paced after the ticket, in-place wait %s", maxWait)
	}
}
