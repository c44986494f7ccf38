package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
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

func TestWriteChartWritesAPNGAndRefusesOtherFormats(t *testing.T) {
	t0 := time.Unix(1000, 0)
	arr := at(t0, outcomeOK, 0, 100, 900)
	dir := t.TempDir()
	require.NoError(t, writeChart(filepath.Join(dir, "c.png"), arr, []string{"c"}, 10, time.Second, 60))
	b, err := os.ReadFile(filepath.Join(dir, "c.png")) // #nosec G304 -- the test's own file
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "\x89PNG"), "a PNG file")
	require.ErrorContains(t, writeChart(filepath.Join(dir, "c.gif"), arr, []string{"c"}, 10, time.Second, 60), "must end in .svg or .png")
}

func TestWriteChartRefusesAnEmptyRecording(t *testing.T) {
	err := writeChart(filepath.Join(t.TempDir(), "c.svg"), nil, []string{"client-001"}, 10, time.Second, 60)
	require.ErrorContains(t, err, "no request")
}

// The recorder notes a request on arrival, with its answer once there is
// one; a request still unanswered is recorded as one with no answer.
func TestRecorderNotesArrivalsAndAnswers(t *testing.T) {
	release := make(chan struct{})
	mockish := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/campaigns":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/api/campaigns/x/sync":
			<-release // hangs until the end of the test
		default:
			_, _ = w.Write([]byte("ok"))
		}
	})
	rec := newRecorder(mockish, []string{"c"})
	srv := httptest.NewServer(rec)
	defer srv.Close()
	defer close(release)
	do := func(method, path, client string) {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-Client-ID", client)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	do(http.MethodGet, "/api/campaigns", "c")
	do(http.MethodGet, "/api/campaigns", "other") // not charted
	do(http.MethodGet, "/health", "c")            // not an /api request
	do(http.MethodGet, "/api/campaigns/1", "c")
	do(http.MethodPost, "/api/campaigns/x/sync", "c")
	var outcomes []string
	for _, a := range rec.recorded() {
		require.Equal(t, "c", a.client)
		outcomes = append(outcomes, a.outcome)
	}
	require.Equal(t, []string{outcomeFailed, outcomeOK, outcomeNoAnswer}, outcomes)
	stats := map[string]mock.ClientStats{"c": {Counted: 3, Hangs: 1}}
	require.NoError(t, checkRecording(rec.recorded(), stats, []string{"c"}))
	stats["c"] = mock.ClientStats{Counted: 4, Hangs: 1}
	require.ErrorContains(t, checkRecording(rec.recorded(), stats, []string{"c"}), "the mock counted 4")
}
