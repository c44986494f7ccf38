package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// at builds arrivals of one client at the given offsets in milliseconds.
func at(t0 time.Time, outcome string, ms ...int) []arrival {
	var out []arrival
	for _, m := range ms {
		out = append(out, arrival{at: t0.Add(time.Duration(m) * time.Millisecond), client: "c", outcome: outcome})
	}
	return out
}

func TestInWindowCountsTheMocksWayAndSkipsRefusals(t *testing.T) {
	t0 := time.Unix(1000, 0)
	arr := append(at(t0, outcomeOK, 0, 100, 200), at(t0, outcomeRefused, 300)...)
	arr = append(arr, at(t0, outcomeNoAnswer, 1000, 1100)...)
	// Window 1 s, (t-1s, t]: the arrival at 0 leaves exactly at 1000, so
	// 1000 sees 100, 200 and itself; the refusal at 300 is not counted.
	require.Equal(t, []int{1, 2, 3, 3, 3, 3}, inWindow(arr, time.Second))
	require.Equal(t, 3, maxInWindow(arr, time.Second))
}

func TestWindowStepsRiseAtArrivalsAndFallAWindowLater(t *testing.T) {
	t0 := time.Unix(1000, 0)
	arr := append(at(t0, outcomeOK, 0, 500), at(t0, outcomeRefused, 600)...)
	arr = append(arr, at(t0, outcomeOK, 1000)...)
	got := windowSteps(arr, t0, time.Second)
	var ys []float64
	for _, p := range got {
		ys = append(ys, p.Y)
	}
	// 0, +1 at 0, +1 at 0.5, at 1.0 the departure first (1) then the
	// arrival (2), -1 at 1.5, -1 at 2.0.
	require.Equal(t, []float64{0, 1, 2, 1, 2, 1, 0}, ys)
}

func TestWriteChartDrawsEveryClientAndOutcome(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var arr []arrival
	for _, c := range []string{"client-001", "client-002"} {
		for i, o := range []string{outcomeOK, outcomeFailed, outcomeNoAnswer, outcomeOK} {
			arr = append(arr, arrival{at: t0.Add(time.Duration(i) * 100 * time.Millisecond), client: c, outcome: o})
		}
	}
	path := filepath.Join(t.TempDir(), "img", "chart.svg")
	require.NoError(t, writeChart(path, arr, []string{"client-001", "client-002"}, 10, time.Second, 60))
	b, err := os.ReadFile(path) // #nosec G304 -- the test's own file
	require.NoError(t, err)
	svg := string(b)
	require.True(t, strings.HasPrefix(strings.TrimSpace(svg), "<?xml") || strings.Contains(svg, "<svg"), "an SVG document")
	for _, want := range []string{"client-001: 4 requests", "client-002: 4 requests", outcomeNoAnswer, "limit: 10 per window"} {
		require.Contains(t, svg, want)
	}
}

func TestWriteChartRefusesAnEmptyRecording(t *testing.T) {
	err := writeChart(filepath.Join(t.TempDir(), "c.svg"), nil, []string{"client-001"}, 10, time.Second, 60)
	require.ErrorContains(t, err, "no request")
}
