package e2e

import (
	"context"
	"encoding/json"
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

// opsURL waits for the worker's "ops server listening" log line and returns
// the server's base URL.
func (b *bundle) opsURL(t *testing.T) string {
	t.Helper()
	var addr string
	testenv.WaitFor(t, 30*time.Second, "the ops server to listen", func() bool {
		var ok bool
		addr, ok = opstest.LogAddr(b.logs.String(), "ops server listening")
		return ok
	})
	return "http://" + addr
}

// archivedTask is what asynqmon's API says about one archived task.
type archivedTask struct {
	ID           string `json:"id"`
	Payload      string `json:"payload"`
	ErrorMessage string `json:"error_message"`
}

// archived lists a queue's archived tasks through asynqmon's API.
func archived(t *testing.T, base, queue string) []archivedTask {
	t.Helper()
	code, body := opstest.Call(t, http.MethodGet, base+"/monitoring/api/queues/"+queue+"/archived_tasks?page=1&size=100", "", "")
	require.Equal(t, http.StatusOK, code, body)
	var list struct{ Tasks []archivedTask }
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	return list.Tasks
}

// A full run with poison records and the default faults: the worker is
// ready, its metrics (parsed with Prometheus' parser) count exactly what
// the ledger holds, and asynqmon lists every dead-lettered record with its
// reason.
func TestOpsServerAfterFullRun(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.PoisonEvery = 10
	b := setup(t, mc, []string{"acme"}, map[string]string{"HTTP_ADDR": "127.0.0.1:0"})
	b.startWorker(t)
	base := b.opsURL(t)
	runs := b.sync(t, "acme")
	require.Equal(t, store.StatusDoneWithFailures, runs[0].Status)

	code, body := opstest.Call(t, http.MethodGet, base+"/healthz", "", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = opstest.Call(t, http.MethodGet, base+"/readyz", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"ok","checks":{"redis":"ok","postgres":"ok","clients":"ok"}}`, body)

	f := opstest.Scrape(t, base+"/metrics")
	acme := map[string]string{"client": "acme"}
	require.Equal(t, 90.0, f.Sum(t, "adsync_campaigns_saved_total", acme))
	require.Equal(t, 10.0, f.Sum(t, "adsync_campaigns_dead_lettered_total", acme))
	require.Equal(t, 10.0, f.Sum(t, "adsync_pages_fetched_total", acme))
	okSyncs := f.Sum(t, "adsync_platform_requests_total", map[string]string{"client": "acme", "endpoint": "sync", "outcome": "ok"})
	require.GreaterOrEqual(t, okSyncs, 90.0)
	require.GreaterOrEqual(t, f.Sum(t, "adsync_platform_requests_total", map[string]string{"client": "acme", "endpoint": "list", "outcome": "ok"}), 10.0)
	require.GreaterOrEqual(t, f.Sum(t, "adsync_platform_token_refreshes_total", acme), 1.0)
	require.GreaterOrEqual(t, f.Sum(t, "adsync_ratelimit_wait_seconds", nil), okSyncs+10)
	require.Equal(t, 10.0, f.Sum(t, "asynq_tasks_enqueued_total", map[string]string{"queue": tasks.QueueSaves, "state": "archived"}))
	require.Equal(t, 0.0, f.Sum(t, "adsync_runs_running", nil))
	require.Equal(t, 1.0, f.Sum(t, "adsync_last_run_status", map[string]string{"client": "acme", "status": store.StatusDoneWithFailures}))
	require.Greater(t, f.Sum(t, "adsync_last_run_duration_seconds", acme), 0.0)
	t.Logf("run %s: %.0f ok syncs, %.0f requests in all", runs[0].FinishedAt.Sub(runs[0].StartedAt).Round(time.Millisecond),
		okSyncs, f.Sum(t, "adsync_platform_requests_total", acme))

	dead := archived(t, base, tasks.QueueSaves)
	require.Len(t, dead, 10)
	for _, d := range dead {
		require.Contains(t, d.ErrorMessage, "invalid campaign: field ", "task %s", d.ID)
		require.NotContains(t, d.Payload, password)
	}
}

// The platform is down for the client while its records are saved, and a
// task gets no retry: every record is dead-lettered. Once the platform is
// back, an operator re-runs the dead letters from asynqmon (one, then all):
// the campaigns land, the dead letters resolve and the run's counts move
// until it ends done.
func TestDeadLetterReplayedThroughAsynqmon(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 20
	mc.FailEvery, mc.HangPercent = 0, 0
	b := setup(t, mc, []string{"acme"}, map[string]string{"HTTP_ADDR": "127.0.0.1:0", "TASK_MAX_RETRY": "0"})
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	// Saves wait in a paused queue until both pages are in the ledger.
	require.NoError(t, insp.PauseQueue(tasks.QueueSaves))
	b.startWorker(t)
	base := b.opsURL(t)
	started, err := b.starter(t).Start(context.Background(), []string{"acme"})
	require.NoError(t, err)
	runID := started[0].RunID
	testenv.WaitFor(t, time.Minute, "both pages fetched", func() bool {
		run, err := b.store.Run(context.Background(), runID)
		require.NoError(t, err)
		return run.PagesDone == 2
	})
	require.NoError(t, b.mock.SetFaults(mock.Faults{DownClients: []string{"acme"}}))
	require.NoError(t, insp.UnpauseQueue(tasks.QueueSaves))
	run := b.waitRuns(t, []int64{runID}, time.Minute)[0]
	require.Equal(t, store.StatusDoneWithFailures, run.Status)
	require.Equal(t, 20, run.CampaignsDead)

	dead := archived(t, base, tasks.QueueSaves)
	require.Len(t, dead, 20)
	for _, d := range dead {
		require.Contains(t, d.ErrorMessage, "503", "task %s", d.ID)
	}
	require.NoError(t, b.mock.SetFaults(mock.Faults{}))

	first := dead[0]
	code, body := opstest.Call(t, http.MethodPost, fmt.Sprintf("%s/monitoring/api/queues/%s/archived_tasks/%s:run", base, tasks.QueueSaves, first.ID), "", "")
	require.Equal(t, http.StatusNoContent, code, body)
	testenv.WaitFor(t, 30*time.Second, "the re-run record to be saved", func() bool {
		run, err := b.store.Run(context.Background(), runID)
		require.NoError(t, err)
		return run.CampaignsSaved == 1
	})
	run, err = b.store.Run(context.Background(), runID)
	require.NoError(t, err)
	require.Equal(t, 19, run.CampaignsDead)
	stored, err := b.store.Campaigns(context.Background(), "acme")
	require.NoError(t, err)
	require.Len(t, stored, 1)
	require.Equal(t, tasks.SaveID(runID, stored[0].ID), first.ID, "the stored campaign is the re-run task's")
	require.Len(t, archived(t, base, tasks.QueueSaves), 19)

	code, body = opstest.Call(t, http.MethodPost, fmt.Sprintf("%s/monitoring/api/queues/%s/archived_tasks:run_all", base, tasks.QueueSaves), "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"scheduled":19}`, body)
	testenv.WaitFor(t, time.Minute, "every record to be saved", func() bool {
		run, err = b.store.Run(context.Background(), runID)
		require.NoError(t, err)
		return run.CampaignsSaved == 20
	})
	require.Equal(t, store.StatusDone, run.Status)
	require.Zero(t, run.CampaignsDead)
	b.requireGroundTruth(t, "acme")
	letters, err := b.store.DeadLetters(context.Background(), runID)
	require.NoError(t, err)
	for _, l := range letters {
		require.NotNil(t, l.ResolvedAt, "dead letter %s", l.TaskID)
	}
	f := opstest.Scrape(t, base+"/metrics")
	require.Equal(t, 20.0, f.Sum(t, "adsync_campaigns_saved_total", map[string]string{"client": "acme"}))
	require.Equal(t, 20.0, f.Sum(t, "adsync_campaigns_dead_lettered_total", map[string]string{"client": "acme"}))
}
