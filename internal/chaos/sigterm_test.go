//go:build chaos

package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// leaseRecovery is the earliest asynq (v0.26) can hand a task held by a
// dead worker to another: its 30 s lease must have expired 30 s ago.
const leaseRecovery = 55 * time.Second

// A worker stopped with SIGTERM mid-run, three times (restarted each
// time), with a second worker alive: each time it stops taking tasks, lets
// the ones in flight finish, and exits 0 within SHUTDOWN_TIMEOUT. Nothing
// is lost, and the runs end sooner than asynq could have recovered any
// orphaned task: none was left behind.
func TestWorkerStoppedWithSIGTERM(t *testing.T) {
	d := deploy(t, deployOptions{clients: 10})
	w, other := d.startWorker(), d.startWorker()
	ids := d.startRuns()
	total := len(ids) * campaigns

	var first time.Time
	finishedAfterStop := 0
	var stops []time.Duration
	for i := 1; i <= 3; i++ {
		d.waitSaved(ids, total*i/5, 2*time.Minute)
		if first.IsZero() {
			first = time.Now()
		}
		took := w.stop(t)
		stops = append(stops, took)
		n := countLines(w.proc, "worker stopping: finishing in-flight tasks", "campaign saved")
		finishedAfterStop += n
		require.Equal(t, 1, countLines(w.proc, "", "worker stopped"), "%s logs its clean stop", w.name)
		t.Logf("SIGTERM %d: %s stopped in %s; %d campaigns saved by in-flight tasks after the signal",
			i, w.name, took.Round(time.Millisecond), n)
		w = d.startWorker()
	}
	runs := d.waitRuns(ids, 3*time.Minute)
	sinceFirst := time.Since(first)
	d.verify(runs)
	d.requireNoSecrets(other)
	require.Less(t, sinceFirst, leaseRecovery,
		"the runs ended later than a lease recovery: a stopped worker may have left tasks behind")
	require.Positive(t, finishedAfterStop, "in-flight tasks should have finished after SIGTERM")
	t.Logf("RESULT sigterms=3 stop_times=[%s] saves_finished_after_sigterm=%d done_after_first_sigterm=%s",
		durations(stops), finishedAfterStop, sinceFirst.Round(time.Millisecond))
	w.stop(t)
	other.stop(t)
}
