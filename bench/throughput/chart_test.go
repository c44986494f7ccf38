package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/bench/benchkit"
)

// passes are a run's figures as the bench measures them: a pass committing
// each campaign alone, the group-commit pass, and asynq's no-op pass.
func passes() ([]result, benchkit.QueuePhase) {
	naive := result{name: "one commit per campaign", saved: 100_000, wall: 500 * time.Second,
		cpu: cpuUse{workers: 90 * time.Second, postgres: 130 * time.Second, redis: 20 * time.Second}}
	batched := result{name: "group commit", saved: 100_000, wall: 100 * time.Second,
		cpu: cpuUse{workers: 57 * time.Second, postgres: 21 * time.Second, redis: 20 * time.Second}}
	queue := benchkit.QueuePhase{Tasks: 200_000, Wall: 35 * time.Second, Workers: 26 * time.Second, Redis: 13 * time.Second}
	return []result{naive, batched}, queue
}

// The chart of a run is a well-formed SVG of some size that names each
// pass it draws, the profiled pass left out.
func TestChartDrawsThePassesSideBySide(t *testing.T) {
	t.Setenv("CHART", "")
	results, queue := passes()
	results = append(results, result{name: "group commit, profiled", saved: 100_000, wall: 120 * time.Second, profileTop: "top"})
	path := filepath.Join(t.TempDir(), "img", "throughput.svg")

	require.NoError(t, writeChart(path, results, queue))

	svg, err := os.ReadFile(path) // #nosec G304 -- the test's own temporary file
	require.NoError(t, err)
	require.Greater(t, len(svg), 5_000, "a chart, not an empty canvas")
	dec := xml.NewDecoder(bytes.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "well-formed XML")
		if el, ok := tok.(xml.StartElement); ok && root == "" {
			root = el.Name.Local
		}
	}
	require.Equal(t, "svg", root)
	for _, label := range []string{"one commit per campaign", "group commit", "asynq alone (no-op)", "CPU per campaign"} {
		require.Contains(t, string(svg), label)
	}
	require.NotContains(t, string(svg), "profiled", "perf slows the pass it samples: it is not drawn")
	// The bars: three rates and three workers' CPU in blue, the legend's
	// swatch among them; PostgreSQL's CPU in orange and Redis's in red.
	require.GreaterOrEqual(t, strings.Count(string(svg), "fill:#4678B4"), 7)
	require.Contains(t, string(svg), "fill:#DC8C32")
	require.Contains(t, string(svg), "fill:#BE3C3C")
	require.NotContains(t, string(svg), "NaN")
}

// A run that measured nothing draws nothing and says so, and leaves no
// file behind; CHART=- draws no chart at all.
func TestChartRefusesARunThatMeasuredNothing(t *testing.T) {
	t.Setenv("CHART", "")
	results, queue := passes()
	path := filepath.Join(t.TempDir(), "throughput.svg")

	require.ErrorContains(t, writeChart(path, nil, queue), "nothing to draw")
	require.ErrorContains(t, writeChart(path, []result{{name: "group commit"}}, queue), "nothing to draw")
	require.ErrorContains(t, writeChart(path, results, benchkit.QueuePhase{}), "nothing to draw")
	require.NoFileExists(t, path)

	t.Setenv("CHART", "-")
	require.NoError(t, writeChart(path, results, queue))
	require.NoFileExists(t, path)
}
