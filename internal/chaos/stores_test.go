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

// pgOutageLen is how long PostgreSQL stays down: longer than the whole
// retry budget of TestPostgresRestartedMidRun's tasks.
const pgOutageLen = 4 * time.Second

// outage breaks a store once, mid-run, and brings it back. It returns when
// the store was back and the saved count that saving must pass to show it
// resumed.
type outage func(i int, ids []int64) (back time.Time, savedBefore int)

// survivesTwoOutages syncs the deployment's clients with two workers through
// two outages, at a quarter and at three fifths of the campaigns saved.
// Every campaign must land once, no secret may be logged and both workers
// must stay up. It returns how long saving took to resume after each
// outage.
func (d *deployment) survivesTwoOutages(t *testing.T, o outage) []time.Duration {
	t.Helper()
	w1, w2 := d.startWorker(), d.startWorker()
	ids := d.startRuns()
	total := len(ids) * campaigns
	var resumed []time.Duration
	for i, at := range []int{total / 4, total * 3 / 5} {
		d.waitSaved(ids, at, 2*time.Minute)
		back, savedBefore := o(i, ids)
		d.waitSaved(ids, savedBefore+1, time.Minute)
		resumed = append(resumed, time.Since(back))
		t.Logf("outage %d: saving again %s after the store was back", i+1, time.Since(back).Round(time.Millisecond))
	}
	runs := d.waitRuns(ids, 3*time.Minute)
	d.verify(runs)
	for _, w := range []*worker{w1, w2} {
		d.requireNoSecrets(w)
		require.False(t, w.exited(), "%s stays up through the outages", w.name)
	}
	w1.stop(t)
	w2.stop(t)
	return resumed
}

// PostgreSQL crashes (immediate shutdown) twice mid-run and comes back
// after 4 s, longer than the tasks' whole retry budget: the page and
// save tasks that met the outage wait for the database without spending
// retries, and complete; every campaign lands once, none is dead-lettered.
func TestPostgresRestartedMidRun(t *testing.T) {
	const maxRetry = 6 // enough for the mock's faults: 10% of requests hang
	pg := startPostgres(t)
	d := deploy(t, deployOptions{clients: 10, databaseURL: pg.url("adsync", dbPassword),
		env: map[string]string{"TASK_MAX_RETRY": strconv.Itoa(maxRetry)}})
	// The longest a task could keep failing before it is dead-lettered: the
	// backoffs at full jitter, twice the shortest.
	budget := 2 * retryBudget(maxRetry, 50*time.Millisecond, time.Second)

	resumed := d.survivesTwoOutages(t, func(i int, ids []int64) (time.Time, int) {
		saved := d.saved(ids)
		down := time.Now()
		pg.crash()
		time.Sleep(pgOutageLen) // the outage is the fault: its length is the point
		pg.start()
		outage := time.Since(down)
		require.Greater(t, outage, budget, "the outage must outlast the retry budget")
		t.Logf("restart %d: PostgreSQL down for %s with %d/%d saved", i+1, outage.Round(time.Millisecond),
			saved, len(ids)*campaigns)
		return time.Now(), saved
	})
	t.Logf("RESULT postgres_restarts=2 outage_each>=%s retry_budget<=%s saving_again_after=[%s]",
		pgOutageLen, budget, durations(resumed))
}

var resumedLine = regexp.MustCompile(`(?m)^run \d+ client=\S+ re-enqueued pages=(\d+) records=(\d+)`)

// Redis, without persistence, is killed twice mid-run and restarted empty:
// the queues and rate budgets are gone. The first time the workers (which
// take the restarted Redis for a new primary) and `enqueuer resume`
// re-enqueue the unfinished pages and records from the ledger; the second
// time `enqueuer sync` notices the emptied Redis and resumes on its own.
// Every campaign lands once.
func TestRedisRestartedEmptyMidRun(t *testing.T) {
	rs := startRedis(t, redisPassword)
	d := deploy(t, deployOptions{clients: 10, redisURL: rs.url()})

	resumed := d.survivesTwoOutages(t, func(i int, ids []int64) (time.Time, int) {
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
			// The workers see the restarted Redis as a new primary and
			// resume the runs themselves within a second or so; whatever
			// they have not put back yet, `enqueuer resume` does. Either
			// way every running run is gone through, and the runs finish.
			out := d.runEnqueuer("resume")
			lines := resumedLine.FindAllStringSubmatch(out, -1)
			require.Len(t, lines, len(ids), "resume goes through every running run:\n%s", out)
			var pages, records int
			for _, m := range lines {
				p, _ := strconv.Atoi(m[1])
				r, _ := strconv.Atoi(m[2])
				pages, records = pages+p, records+r
			}
			t.Logf("restart 1: `enqueuer resume` re-enqueued %d pages and %d records the workers had not", pages, records)
		} else {
			out := d.runEnqueuer("sync")
			require.Equal(t, len(ids), strings.Count(out, "already in progress"),
				"every client's run is still going, so sync starts none:\n%s", out)
		}
		t.Logf("restart %d: Redis killed with %d/%d saved, %d when it was back and settled",
			i+1, saved, len(ids)*campaigns, stalled)
		return back, stalled
	})
	t.Logf("RESULT redis_restarts=2 (resume, then sync's auto-resume) saving_again_after=[%s]", durations(resumed))
}
