package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// replayEnv: a task gets one retry, as in the report, and the
// worker's ops server serves asynqmon.
var replayEnv = map[string]string{"TASK_MAX_RETRY": "1", "HTTP_ADDR": "127.0.0.1:0", "SYNC_CALL": "false"}

// runAllArchived presses asynqmon's "Run all" on a queue's archive through
// its HTTP API and returns how many tasks it scheduled.
func runAllArchived(t *testing.T, base, queue string) string {
	t.Helper()
	code, body := opstest.Call(t, http.MethodPost, fmt.Sprintf("%s/monitoring/api/queues/%s/archived_tasks:run_all", base, queue), "", "")
	require.Equal(t, http.StatusOK, code, body)
	return body
}

// startRun starts one run of the client and returns its id.
func startRun(t *testing.T, b *bundle, clientID string) int64 {
	t.Helper()
	started, err := b.starter(t).Start(context.Background(), []string{clientID})
	require.NoError(t, err)
	return started[0].RunID
}

// failedRun starts a worker and one run of acme, waits for the run to end
// with the given status, and returns asynqmon's base URL and the run.
func failedRun(t *testing.T, b *bundle, status string) (string, store.Run) {
	t.Helper()
	b.startWorker(t)
	base := b.opsURL(t)
	runID := startRun(t, b, "acme")
	run := b.waitRuns(t, []int64{runID}, time.Minute)[0]
	require.Equal(t, status, run.Status, "reason: %s", run.Reason)
	return base, run
}

// requireRevived replays the archive of the page's queue (asynqmon shows a
// first page in the starts queue, the others in the pages queue) with the
// saves queue paused:
// the run must be back to running with every page in, its records waiting;
// then the saves run and the run ends done with every campaign of the
// platform stored, by id.
func requireRevived(t *testing.T, b *bundle, base string, runID int64, page, pages int) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	require.NoError(t, insp.PauseQueue(tasks.QueueSaves))
	require.JSONEq(t, `{"scheduled":1}`, runAllArchived(t, base, tasks.PageQueue(page)))
	testenv.WaitFor(t, time.Minute, "every page of the replayed run in", func() bool {
		run, err := b.store.Run(context.Background(), runID)
		require.NoError(t, err)
		return run.PagesDone == pages
	})
	run, err := b.store.Run(context.Background(), runID)
	require.NoError(t, err)
	require.Equal(t, store.StatusRunning, run.Status, "the replay took the run back to running")
	require.Nil(t, run.FinishedAt)
	require.NoError(t, insp.UnpauseQueue(tasks.QueueSaves))
	run = b.waitRuns(t, []int64{runID}, time.Minute)[0]
	require.Equal(t, store.StatusDone, run.Status, "reason: %s", run.Reason)
	require.Zero(t, run.PagesFailed)
	present, removed := listed(t, b, "acme")
	require.Equal(t, catalogueIDs(t, b, "acme"), present, "nothing fetched was thrown away")
	require.Empty(t, removed)
	letters, err := b.store.DeadLetters(context.Background(), runID)
	require.NoError(t, err)
	for _, l := range letters {
		require.NotNil(t, l.ResolvedAt, "dead letter %s", l.TaskID)
	}
}

// The report, end to end: the client's platform is down, page 1 is
// dead-lettered and the run fails; the platform comes back and asynqmon's
// "Run all" on the pages archive replays page 1. The run goes back to
// running, fetches pages 2..5 (four list requests after page 1), saves
// every campaign and ends done.
func TestReplayedFirstPageRevivesRun(t *testing.T) {
	t.Parallel()
	b := setup(t, quietMock(50), []string{"acme"}, replayEnv)
	require.NoError(t, b.mock.SetFaults(mock.Faults{DownClients: []string{"acme"}}))
	base, run := failedRun(t, b, store.StatusFailed)
	runID := run.ID
	require.Contains(t, run.Reason, "page 1")
	require.Len(t, archived(t, base, tasks.QueueStarts), 1)

	require.NoError(t, b.mock.SetFaults(mock.Faults{}))
	ok0, _ := listAnswers(b, "acme")
	requireRevived(t, b, base, runID, 1, 5)
	ok1, all := listAnswers(b, "acme")
	require.Equal(t, int64(5), ok1-ok0, "page 1 replayed, pages 2..5 fetched once each")
	t.Logf("replay of page 1: %d list requests answered 200; %d list requests in the whole test", ok1-ok0, all)
}

// A middle page fails for good: the run fails with the other pages' records
// saved. Replayed from asynqmon, page 3 takes the run back to running, its
// records are saved and the run ends done.
func TestReplayedMiddlePageRevivesRun(t *testing.T) {
	t.Parallel()
	b, proxy := setupBehind(t, quietMock(50), []string{"acme"}, replayEnv)
	proxy.failPage.Store(3)
	base, run := failedRun(t, b, store.StatusFailed)
	runID := run.ID
	require.Contains(t, run.Reason, "page 3")
	require.Equal(t, 40, run.CampaignsSaved)

	proxy.failPage.Store(0)
	ok0, _ := listAnswers(b, "acme")
	requireRevived(t, b, base, runID, 3, 5)
	ok1, _ := listAnswers(b, "acme")
	require.Equal(t, int64(1), ok1-ok0, "only page 3 is fetched again")
}

// A record whose sync call fails for good is dead-lettered and its run ends
// done_with_failures. Replayed from asynqmon's saves archive, the record is
// saved and the run settles done.
func TestReplayedRecordSettlesRun(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TASK_MAX_RETRY": "1", "HTTP_ADDR": "127.0.0.1:0", "SYNC_CALL": "true"}
	b, proxy := setupBehind(t, quietMock(20), []string{"acme"}, env)
	bad := "campaign_7"
	proxy.failSync.Store(&bad)
	base, run := failedRun(t, b, store.StatusDoneWithFailures)
	runID := run.ID
	require.Equal(t, 1, run.CampaignsDead)
	require.NotContains(t, stored(t, b, "acme"), bad)

	proxy.failSync.Store(nil)
	require.JSONEq(t, `{"scheduled":1}`, runAllArchived(t, base, tasks.QueueSaves))
	testenv.WaitFor(t, time.Minute, "the replayed record saved", func() bool {
		run, err := b.store.Run(context.Background(), runID)
		require.NoError(t, err)
		return run.CampaignsSaved == 20
	})
	run = b.waitRuns(t, []int64{runID}, time.Minute)[0]
	require.Equal(t, store.StatusDone, run.Status)
	require.Zero(t, run.CampaignsDead)
	present, removed := listed(t, b, "acme")
	require.Equal(t, catalogueIDs(t, b, "acme"), present)
	require.Empty(t, removed)
	ok, _ := listAnswers(b, "acme")
	require.Equal(t, int64(2), ok, "a replayed record fetches no page")
}
