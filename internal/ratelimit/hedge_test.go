package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// A hedge takes a slot only when one is free now, nothing of the client is
// booked later and nothing was sent lately: never a slot that booked work
// needs, never past the limit, never during a block.
func TestHedgeUsesOnlyBudgetNoWorkNeeds(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	l := newLimiter(t, rdb, Options{Limit: 3, Window: time.Second, MaxInPlaceWait: 100 * time.Millisecond, Clock: clk})

	_, err := l.Reserve(t.Context(), "c")
	require.NoError(t, err)
	clk.Add(100 * time.Millisecond)
	ok, err := l.Hedge(t.Context(), "c", 150*time.Millisecond)
	require.NoError(t, err)
	require.False(t, ok, "a send 100 ms ago may still fail and need a slot")
	ok, err = l.Hedge(t.Context(), "c", 50*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok, "a free slot, nothing booked, nothing sent in the last 50 ms: the hedge goes")

	_, err = l.Book(t.Context(), "c", nil, []string{"a", "b"})
	require.NoError(t, err)
	ok, err = l.Hedge(t.Context(), "c", 0)
	require.NoError(t, err)
	require.False(t, ok, "b's ticket lies after now: its work needs the budget")

	clk.Add(5 * time.Second)
	require.NoError(t, l.Block(t.Context(), "c", time.Second))
	ok, err = l.Hedge(t.Context(), "c", 0)
	require.NoError(t, err)
	require.False(t, ok, "no hedge during a block")

	clk.Add(2 * time.Second)
	for range 3 {
		ok, err = l.Hedge(t.Context(), "c", 0)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err = l.Hedge(t.Context(), "c", 0)
	require.NoError(t, err)
	require.False(t, ok, "the window is full")
	var sends []time.Time
	for _, us := range stampScores(t, rdb, l, "c") {
		sends = append(sends, time.UnixMicro(us))
	}
	testenv.RequireSlidingWindow(t, "c", sends, 3, time.Second)

	_, err = l.Hedge(t.Context(), "", 0)
	require.ErrorIs(t, err, ErrEmptyClientID)
}
