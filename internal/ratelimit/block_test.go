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
	opts := Options{Limit: 3, Window: time.Minute, MaxInPlaceWait: time.Second}
	first := newLimiter(t, rdb, opts)
	second := newLimiter(t, otherProcess(t, rdb), opts)

	require.NoError(t, first.Block(t.Context(), "c", 500*time.Millisecond))
	left, err := second.BlockedFor(t.Context(), "c")
	require.NoError(t, err)
	require.Greater(t, left, 400*time.Millisecond)
	require.LessOrEqual(t, left, 500*time.Millisecond)

	_, blockKey, _ := first.keys("c")
	until, err := rdb.Get(t.Context(), blockKey).Int64()
	require.NoError(t, err)
	for range 3 {
		d, err := second.Reserve(t.Context(), "c")
		require.NoError(t, err)
		require.Greater(t, d, 400*time.Millisecond)
	}
	require.Equal(t, []int64{until, until, until}, stampScores(t, rdb, first, "c"),
		"the whole budget goes at the end of the block")

	require.NoError(t, second.Block(t.Context(), "c", 50*time.Millisecond))
	require.NoError(t, second.Block(t.Context(), "c", 0))
	left, err = first.BlockedFor(t.Context(), "c")
	require.NoError(t, err)
	require.Greater(t, left, 300*time.Millisecond, "a shorter block does not shorten the one in force")

	require.NoError(t, second.Block(t.Context(), "c", time.Second))
	left, err = first.BlockedFor(t.Context(), "c")
	require.NoError(t, err)
	require.Greater(t, left, 900*time.Millisecond, "a longer block extends it")

	left, err = first.BlockedFor(t.Context(), "other")
	require.NoError(t, err)
	require.Zero(t, left)
}
