//go:build chaos

package chaos

import (
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/tasks"
)

// The platform goes down mid-run, first answering 503 to everything
// (tokens included), then leaving every request unanswered, for a stretch
// shorter than the tasks' retry budget: once it is back every run
// completes, and nothing that would have succeeded was dead-lettered.
func TestPlatformDownThenHanging(t *testing.T) {
	const maxRetry = 12
	const down, hang = 1500 * time.Millisecond, 1500 * time.Millisecond
	d := deploy(t, deployOptions{clients: 10, env: map[string]string{"TASK_MAX_RETRY": strconv.Itoa(maxRetry)}})
	budget := retryBudget(maxRetry, 50*time.Millisecond, time.Second)
	require.Less(t, down+hang, budget, "the outage must be shorter than the retry budget")
	w1, w2 := d.startWorker(), d.startWorker()
	ids := d.startRuns()
	total := len(ids) * campaigns

	d.waitSaved(ids, total/4, 2*time.Minute)
	before := d.mockStats()
	outageStart := time.Now()
	d.setFaults(mock.Faults{DownAll: true})
	time.Sleep(down) // the outage is the fault: its length is the point
	d.setFaults(mock.Faults{HangAll: true})
	time.Sleep(hang)
	d.setFaults(defaultFaults)
	back := time.Now()
	savedAtBack := d.saved(ids)
	during := d.mockStats()

	runs := d.waitRuns(ids, 3*time.Minute)
	doneAfter := time.Since(back)
	d.verify(runs)

	insp := d.inspector()
	for _, q := range tasks.Queues {
		archived, err := insp.ListArchivedTasks(q, asynq.PageSize(100))
		require.NoError(t, err)
		require.Empty(t, archived, "dead-lettered tasks in queue %s", q)
	}
	d.requireNoSecrets(w1)

	var unavailable, hangs int64
	for id, st := range during.Clients {
		b := before.Clients[id]
		for _, ep := range []string{mock.EndpointAuth, mock.EndpointList, mock.EndpointSync} {
			unavailable += st.Requests[ep]["503"] - b.Requests[ep]["503"]
		}
		hangs += st.Hangs - b.Hangs
	}
	t.Logf("RESULT outage=%s (503 for %s, then no answer for %s) retry_budget>=%s answered_503=%d unanswered=%d "+
		"saved_when_back=%d/%d done_after_back=%s",
		back.Sub(outageStart).Round(time.Millisecond), down, hang, budget,
		unavailable, hangs, savedAtBack, total, doneAfter.Round(time.Millisecond))
	require.Positive(t, unavailable, "the outage should have been met with 503s")
	require.Positive(t, hangs, "the outage should have been met with hangs")
	w1.stop(t)
	w2.stop(t)
}
