package progress

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
)

// lines returns out's lines whose first word is kind, in order.
func lines(out *bytes.Buffer, kind string) []string {
	var found []string
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, kind+" ") {
			found = append(found, strings.TrimSuffix(line, "\n"))
		}
	}
	return found
}

// field returns the value of key in a key=value line.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func TestWatchPlainLines(t *testing.T) {
	first := running(12, "c1", 10, 4, 40, 37, 1)
	last := first
	last.PagesDone, last.CampaignsSeen, last.CampaignsSaved, last.CampaignsDead = 10, 100, 100, 0
	failed := running(13, "c2", 3, 1, 3, 3, 0)
	failed.PagesFailed, failed.Reason = 1, "list page 2: unauthorized"
	src := &scripted{steps: okSteps(
		[]store.Run{first, failed},
		[]store.Run{ended(last, store.StatusDone, 11*time.Minute+2*time.Second), ended(failed, store.StatusFailed, 42*time.Second)},
	)}
	var out bytes.Buffer

	got, err := Watch(t.Context(), src.read, fastPlain(&out))

	require.NoError(t, err)
	require.Equal(t, []string{
		"progress client=c1 run=12 status=running pages=4/10 saved=37 dead=1 seen=40 eta=7m0s",
		"progress client=c2 run=13 status=running pages=1/3 saved=3 dead=0 seen=3 eta=2m0s",
	}, lines(&out, "progress"))
	require.Equal(t, []string{
		"ended client=c1 run=12 status=done saved=100 dead=0 duration=11m2s",
		`ended client=c2 run=13 status=failed saved=3 dead=0 duration=42s reason="list page 2: unauthorized"`,
	}, lines(&out, "ended"))
	require.Equal(t, src.steps[1].runs, got)
}

func TestWatchPrintsOneEndedLinePerRun(t *testing.T) {
	a, b := running(1, "a", 1, 0, 0, 0, 0), running(2, "b", 5, 0, 0, 0, 0)
	aDone := ended(a, store.StatusDone, time.Minute)
	steps := []step{{runs: []store.Run{a, b}}}
	for done := 1; done <= 5; done++ {
		b.PagesDone = done
		steps = append(steps, step{runs: []store.Run{aDone, b}})
	}
	bDone := ended(b, store.StatusDoneWithFailures, time.Hour)
	steps = append(steps, step{runs: []store.Run{aDone, bDone}})
	src := &scripted{steps: steps}
	var out bytes.Buffer

	got, err := Watch(t.Context(), src.read, fastPlain(&out))

	require.NoError(t, err)
	require.Equal(t, []store.Run{aDone, bDone}, got)
	require.Equal(t, len(steps), src.calls, "Watch returns on the read where the last run ended")
	endedLines := lines(&out, "ended")
	require.Len(t, endedLines, 2)
	require.Equal(t, "1", field(endedLines[0], "run"))
	require.Equal(t, "2", field(endedLines[1], "run"))
	require.Equal(t, "done_with_failures", field(endedLines[1], "status"))
	progressOfA := 0
	for _, line := range lines(&out, "progress") {
		if field(line, "run") == "1" {
			progressOfA++
		}
	}
	require.Equal(t, 1, progressOfA, "after the first read, run 1 has ended and gets no more progress lines")
}

func TestWatchPrintsProgressEveryPlainEvery(t *testing.T) {
	r := running(1, "a", 1, 0, 0, 0, 0)
	src := &scripted{steps: okSteps(
		[]store.Run{r}, []store.Run{r}, []store.Run{r}, []store.Run{ended(r, store.StatusDone, time.Second)},
	)}
	var out bytes.Buffer
	o := fastPlain(&out)
	o.PlainEvery = time.Hour

	_, err := Watch(t.Context(), src.read, o)

	require.NoError(t, err)
	require.Len(t, lines(&out, "progress"), 1, "the first read prints, the next ones are within PlainEvery")
	require.Len(t, lines(&out, "ended"), 1, "an ended line does not wait for PlainEvery")
}

func TestWatchReportsSourceErrorOncePerOutage(t *testing.T) {
	r := running(1, "a", 1, 0, 0, 0, 0)
	down := errors.New("store: list runs: connection refused")
	src := &scripted{steps: []step{
		{runs: []store.Run{r}}, {err: down}, {err: down}, {runs: []store.Run{r}},
		{err: down}, {runs: []store.Run{ended(r, store.StatusDone, time.Second)}},
	}}
	var out bytes.Buffer

	got, err := Watch(t.Context(), src.read, fastPlain(&out))

	require.NoError(t, err, "a Source error does not end the wait")
	require.Equal(t, store.StatusDone, got[0].Status)
	require.Equal(t, []string{
		`poll-error err="store: list runs: connection refused"`,
		`poll-error err="store: list runs: connection refused"`,
	}, lines(&out, "poll-error"))
}

func TestWatchReturnsContextErrorWithLastStates(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := running(1, "a", 1, 0, 0, 0, 0)
	calls := 0
	src := func(context.Context) ([]store.Run, error) {
		calls++
		if calls == 3 {
			cancel()
			return nil, context.Canceled
		}
		return []store.Run{r}, nil
	}
	var out bytes.Buffer

	got, err := Watch(ctx, src, fastPlain(&out))

	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []store.Run{r}, got)
	require.Empty(t, lines(&out, "poll-error"), "the source failing because ctx ended is not reported")
}

func TestWatchReturnsAtOnceWithoutRuns(t *testing.T) {
	src := &scripted{steps: okSteps(nil)}

	got, err := Watch(t.Context(), src.read, Options{})

	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, 1, src.calls)
}
