//go:build chaos

package chaos

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// outageLen is how long PostgreSQL or Redis stays down in these tests.
const outageLen = 2 * time.Second

// PostgreSQL crashes (immediate shutdown) twice mid-run and comes back
// after 2 s: the page and save tasks that met the outage retry with
// backoff and complete; every campaign lands once.
func TestPostgresRestartedMidRun(t *testing.T) {
	const maxRetry = 20
	pg := startPostgres(t)
	d := deploy(t, deployOptions{clients: 10, databaseURL: pg.url("adsync", dbPassword),
		env: map[string]string{"TASK_MAX_RETRY": strconv.Itoa(maxRetry)}})
	budget := retryBudget(maxRetry, 50*time.Millisecond, time.Second)
	w1, w2 := d.startWorker(), d.startWorker()
	ids := d.startRuns()
	total := len(ids) * campaigns

	var resumed []time.Duration
	for i, at := range []int{total / 4, total * 3 / 5} {
		d.waitSaved(ids, at, 2*time.Minute)
		saved := d.saved(ids)
		down := time.Now()
		pg.crash()
		time.Sleep(outageLen) // the outage is the fault: its length is the point
		pg.start()
		outage := time.Since(down)
		require.Less(t, outage, budget, "the outage must be shorter than the retry budget")
		back := time.Now()
		d.waitSaved(ids, saved+1, time.Minute)
		resumed = append(resumed, time.Since(back))
		t.Logf("restart %d: PostgreSQL down for %s with %d/%d saved; saving again %s after it was back",
			i+1, outage.Round(time.Millisecond), saved, total, time.Since(back).Round(time.Millisecond))
	}
	runs := d.waitRuns(ids, 3*time.Minute)
	d.verify(runs)
	d.requireNoSecrets(w1)
	require.False(t, w1.exited() || w2.exited(), "the workers stay up through the outage")
	t.Logf("RESULT postgres_restarts=2 outage_each>=%s retry_budget>=%s saving_again_after=[%s]",
		outageLen, budget, durations(resumed))
	w1.stop(t)
	w2.stop(t)
}

var resumedLine = regexp.MustCompile(`(?m)^run \d+ client=\S+ re-enqueued pages=(\d+) records=(\d+)`)

// Redis, without persistence, is killed twice mid-run and restarted empty:
// the queues and rate budgets are gone. The first time `enqueuer resume`
// re-enqueues the unfinished pages and records from the ledger; the second
// time `enqueuer sync` notices the emptied Redis and resumes on its own.
// Every campaign lands once.
func TestRedisRestartedEmptyMidRun(t *testing.T) {
	rs := startRedis(t, redisPassword)
	d := deploy(t, deployOptions{clients: 10, redisURL: rs.url()})
	w1, w2 := d.startWorker(), d.startWorker()
	ids := d.startRuns()
	total := len(ids) * campaigns

	var resumed []time.Duration
	for i, at := range []int{total / 4, total * 3 / 5} {
		d.waitSaved(ids, at, 2*time.Minute)
		rs.kill()
		saved := d.saved(ids)
		time.Sleep(outageLen) // the outage is the fault: its length is the point
		rs.start()
		// Let whatever was in flight when Redis died settle: with the queues
		// gone, the runs can only stall until the ledger is replayed.
		time.Sleep(time.Second)
		stalled := d.saved(ids)
		back := time.Now()
		if i == 0 {
			out := d.runEnqueuer("resume")
			var pages, records int
			for _, m := range resumedLine.FindAllStringSubmatch(out, -1) {
				p, _ := strconv.Atoi(m[1])
				r, _ := strconv.Atoi(m[2])
				pages, records = pages+p, records+r
			}
			require.Positive(t, pages+records, "resume should re-enqueue unfinished work:\n%s", out)
			t.Logf("restart 1: `enqueuer resume` re-enqueued %d pages and %d records", pages, records)
		} else {
			out := d.runEnqueuer("sync")
			require.Equal(t, len(ids), strings.Count(out, "already in progress"),
				"every client's run is still going, so sync starts none:\n%s", out)
		}
		d.waitSaved(ids, stalled+1, time.Minute)
		resumed = append(resumed, time.Since(back))
		t.Logf("restart %d: Redis killed with %d/%d saved, %d when it was back and settled; saving again %s after the resume",
			i+1, saved, total, stalled, time.Since(back).Round(time.Millisecond))
	}
	runs := d.waitRuns(ids, 3*time.Minute)
	d.verify(runs)
	d.requireNoSecrets(w1)
	require.False(t, w1.exited() || w2.exited(), "the workers stay up through the outage")
	t.Logf("RESULT redis_restarts=2 (resume, then sync's auto-resume) saving_again_after=[%s]", durations(resumed))
	w1.stop(t)
	w2.stop(t)
}
