package progress

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vbauerster/mpb/v8"

	"github.com/adsync/adsync/internal/store"
)

func TestWatchInteractiveEndsWithManyRuns(t *testing.T) {
	const n = 60
	var first, middle, last []store.Run
	for i := range n {
		r := running(int64(i+1), fmt.Sprintf("client-%02d", i), 2, 0, 0, 0, 0)
		first = append(first, r)
		r.PagesDone, r.CampaignsSeen, r.CampaignsSaved = 1, 10, 4
		middle = append(middle, r)
		r.PagesDone, r.CampaignsSeen, r.CampaignsSaved, r.CampaignsDead = 2, 15, 14, 1
		status := store.StatusDoneWithFailures
		if i%7 == 0 {
			status = store.StatusFailed
		}
		last = append(last, ended(r, status, time.Minute))
	}
	src := &scripted{steps: okSteps(first, middle, last)}
	var out bytes.Buffer
	o := fastPlain(&out)
	o.Interactive = true

	got, err := Watch(t.Context(), src.read, o)

	require.NoError(t, err)
	require.Equal(t, last, got)
}

func TestBarsDrawLabelCountersAndFinalStatus(t *testing.T) {
	var out bytes.Buffer
	o := fastPlain(&out)
	b := newBars(o, mpb.WithAutoRefresh(), mpb.WithWidth(120))
	r := running(12, "c1", 10, 4, 40, 37, 1)
	failed := running(13, "c2", 3, 1, 3, 3, 0)
	failed.PagesFailed = 1

	b.update([]store.Run{r, failed}, time.Now())
	r.PagesDone, r.CampaignsSeen, r.CampaignsSaved, r.CampaignsDead = 10, 100, 99, 1
	b.update([]store.Run{ended(r, store.StatusDoneWithFailures, time.Minute), ended(failed, store.StatusFailed, time.Second)}, time.Now())
	b.note("poll-error err=\"x\"")
	b.stop()

	text := out.String()
	require.Contains(t, text, "c1 #12")
	require.Contains(t, text, "saved 99 dead 1 pages 10/10")
	require.Contains(t, text, "done_with_failures")
	require.Contains(t, text, "c2 #13")
	require.Contains(t, text, "failed")
}
