package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// A block set by one process holds every process's reservations until it
// ends, lets the whole budget go at its end, and is never shortened.
func TestBlockHoldsAllProcesses(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	clk := newManualClock()
	opts := Options{Limit: 3, Window: time.Minute, MaxInPlaceWait: time.Second, Clock: clk}
	first := newLimiter(t, rdb, opts)
	second := newLimiter(t, otherProcess(t, rdb), opts)

	require.NoError(t, first.Block(t.Context(), "c", 500*time.Millisecond))
	clk.Add(100 * time.Millisecond)
	left, err := second.BlockedFor(t.Context(), "c")
	require.NoError(t, err)
	require.Equal(t, 400*time.Millisecond, left)

	blockKey := first.keys("c")[blockedKey]
	until, err := rdb.Get(t.Context(), blockKey).Int64()
	require.NoError(t, err)
	for range 3 {
		d, err := second.Reserve(t.Context(), "c")
		require.NoError(t, err)
		require.Equal(t, 400*time.Millisecond, d)
	}
	require.Equal(t, []int64{until, until, until}, stampScores(t, rdb, first, "c"),
		"the whole budget goes at the end of the block")

	require.NoError(t, second.Block(t.Context(), "c", 50*time.Millisecond))
	require.NoError(t, second.Block(t.Context(), "c", 0))
	left, err = first.BlockedFor(t.Context(), "c")
	require.NoError(t, err)
	require.Equal(t, 400*time.Millisecond, left, "a shorter block does not shorten the one in force")

	require.NoError(t, second.Block(t.Context(), "c", time.Second))
	left, err = first.BlockedFor(t.Context(), "c")
	require.NoError(t, err)
	require.Equal(t, time.Second, left, "a longer block extends it")

	left, err = first.BlockedFor(t.Context(), "other")
	require.NoError(t, err)
	require.Zero(t, left)
}
