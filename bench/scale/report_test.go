package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The save goals are met only when every campaign of each pass has its row
// written once: a campaign saved twice, or missing, fails them.
func TestGoalsOnSaves(t *testing.T) {
	once := func(n int) campaignWrites { return campaignWrites{rows: int64(n), writes: int64(n)} }
	pass := func() []row {
		return []row{
			{workers: 1, sync: syncFigures{ratioMax: 1.1, campaigns: 2000, saved: 2000, writes: once(2000)},
				tp: tpFigures{campaigns: 20000, saved: 20000, writes: once(20000)}},
			{workers: 4, sync: syncFigures{ratioMax: 1.1, campaigns: 2000, saved: 2000, writes: once(2000)},
				tp: tpFigures{campaigns: 20000, saved: 20000, writes: once(20000)}},
		}
	}
	verdicts := func(rows []row) (sync, tp string) {
		for _, g := range goals(rows, 0.02) {
			switch {
			case strings.Contains(g, "of the sync saved"):
				sync = g
			case strings.Contains(g, "unthrottled pass saved"):
				tp = g
			}
		}
		require.NotEmpty(t, sync)
		require.NotEmpty(t, tp)
		return sync, tp
	}

	sync, tp := verdicts(pass())
	require.True(t, strings.HasSuffix(sync, ": met"), sync)
	require.True(t, strings.HasSuffix(tp, ": met"), tp)
	require.Contains(t, tp, "its 20000 campaigns")

	rows := pass()
	rows[1].sync.writes.writes++ // one campaign written twice with 4 workers
	sync, _ = verdicts(rows)
	require.True(t, strings.HasSuffix(sync, "NOT MET"), sync)

	rows = pass()
	rows[0].tp.saved, rows[0].tp.writes = 19999, once(19999)
	_, tp = verdicts(rows)
	require.True(t, strings.HasSuffix(tp, "NOT MET"), tp)

	rows = pass()
	rows[0].sync.writes.writes, rows[0].sync.writes.removals = 2001, 1 // a removal mark is no save
	sync, _ = verdicts(rows)
	require.True(t, strings.HasSuffix(sync, ": met"), sync)
}
