package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/enqueuer"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// Ten clients, one with a wrong password and one whose API is down: the
// eight healthy ones complete in full, the two end failed with a clear
// reason in bounded time, and `enqueuer sync --wait` exits 1 after printing
// plain progress lines (its output is not a terminal here).
func TestTenClientsWithTwoBrokenOnes(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.DownClients = []string{"c-down"}
	ids := []string{"c-down", "c-badpw"}
	for i := 1; i <= 8; i++ {
		ids = append(ids, fmt.Sprintf("c-%d", i))
	}
	b := setup(t, mc, ids, map[string]string{"TASK_MAX_RETRY": "6"})
	// c-badpw's password comes from a file holding a wrong one (a file,
	// not a variable, so that the test can run beside others).
	wrong := t.TempDir() + "/wrong-password"
	require.NoError(t, os.WriteFile(wrong, []byte("not-"+password), 0o600))
	clients, err := os.ReadFile(b.vars["CLIENTS_FILE"])
	require.NoError(t, err)
	fixed := strings.Replace(string(clients), `{"id":"c-badpw","email":"`+email+`","password_env":"E2E_PLATFORM_PASSWORD"}`,
		fmt.Sprintf(`{"id":"c-badpw","email":%q,"password_file":%q}`, email, wrong), 1)
	require.NotEqual(t, string(clients), fixed)
	require.NoError(t, os.WriteFile(b.vars["CLIENTS_FILE"], []byte(fixed), 0o600))
	b.startWorker(t)

	var out, errOut bytes.Buffer
	start := time.Now()
	code := enqueuer.Main(context.Background(), b.cfg, []string{"sync", "--wait"}, &out, &errOut)
	wall := time.Since(start)
	require.Equal(t, enqueuer.ExitFailures, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())

	runs, err := b.store.RecentRuns(context.Background(), 20)
	require.NoError(t, err)
	require.Len(t, runs, 10)
	var healthyWall time.Duration
	for _, r := range runs {
		switch r.ClientID {
		case "c-down":
			require.Equal(t, store.StatusFailed, r.Status)
			require.Contains(t, r.Reason, "503")
		case "c-badpw":
			require.Equal(t, store.StatusFailed, r.Status)
			require.Contains(t, r.Reason, "auth refused")
		default:
			require.Equal(t, store.StatusDone, r.Status, "client %s: %s", r.ClientID, r.Reason)
			require.Equal(t, 100, r.CampaignsSaved)
			b.requireGroundTruth(t, r.ClientID)
			healthyWall = max(healthyWall, r.FinishedAt.Sub(r.StartedAt))
		}
	}
	text := out.String()
	require.Contains(t, text, "ended client=c-badpw")
	require.Contains(t, text, "status=failed")
	require.Equal(t, 8, strings.Count(text, "status=done "), "one ended line per healthy client:\n%s", text)
	require.Contains(t, text, "CLIENT", "the summary table")
	t.Logf("ten clients: healthy clients' slowest run %s, command wall %s", healthyWall.Round(time.Millisecond), wall.Round(time.Millisecond))
}

// Two hundred clients and a handful of worker slots: every client
// completes; none starves.
func TestTwoHundredClientsFewSlots(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 10
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprintf("c-%03d", i+1)
	}
	b := setup(t, mc, ids, map[string]string{"WORKER_CONCURRENCY": "8"})
	b.startWorker(t)
	start := time.Now()
	runs := b.sync(t, ids...)
	wall := time.Since(start)
	var total int
	for _, r := range runs {
		require.Equal(t, store.StatusDone, r.Status, "client %s: %s", r.ClientID, r.Reason)
		require.Equal(t, 10, r.CampaignsSaved, "client %s", r.ClientID)
		total += r.CampaignsSaved
	}
	require.Equal(t, 2000, total)
	for _, id := range []string{"c-001", "c-100", "c-200"} {
		b.requireGroundTruth(t, id)
	}
	t.Logf("200 clients x 10 campaigns with 8 slots: %s", wall.Round(time.Millisecond))
}

// Redis loses everything mid-run (FLUSHDB stands in for a restart without
// persistence): `enqueuer resume` re-enqueues what the ledger shows
// unfinished and every campaign lands exactly once.
func TestResumeAfterRedisLostItsData(t *testing.T) {
	t.Parallel()
	ids := []string{"acme", "beta", "gamma"}
	b := setup(t, mockConfig(), ids, nil)
	stop := b.startWorker(t)
	started, err := b.starter(t).Start(context.Background(), ids)
	require.NoError(t, err)
	testenv.WaitFor(t, time.Minute, "some progress", func() bool {
		runs, err := b.store.Runs(context.Background(), []int64{started[0].RunID})
		require.NoError(t, err)
		return runs[0].CampaignsSaved >= 30
	})
	stop()
	require.NoError(t, b.rdb.FlushDB(context.Background()).Err())
	b.startWorker(t)

	var out, errOut bytes.Buffer
	require.Equal(t, enqueuer.ExitOK, enqueuer.Main(context.Background(), b.cfg, []string{"resume"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "re-enqueued")

	runIDs := []int64{started[0].RunID, started[1].RunID, started[2].RunID}
	for _, r := range b.waitRuns(t, runIDs, 3*time.Minute) {
		require.Equal(t, store.StatusDone, r.Status, "client %s: %s", r.ClientID, r.Reason)
		require.Equal(t, 100, r.CampaignsSaved)
	}
	for _, id := range ids {
		b.requireGroundTruth(t, id)
	}
}

// Schedules that fire while the previous run of a client is still going
// never start a second one: each run of a client starts after the previous
// ended.
func TestOverlappingSchedulesNeverRunAClientTwice(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 30
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errOut syncBuffer
	go func() {
		done <- enqueuer.Main(ctx, b.cfg, []string{"schedule", "--every", "300ms"}, &bytes.Buffer{}, &errOut)
	}()
	testenv.WaitFor(t, 2*time.Minute, "two finished runs", func() bool {
		runs, err := b.store.RecentRuns(context.Background(), 10)
		require.NoError(t, err)
		finished := 0
		for _, r := range runs {
			if r.Finished() {
				finished++
			}
		}
		return finished >= 2
	})
	cancel()
	require.Equal(t, enqueuer.ExitOK, <-done)
	require.Contains(t, errOut.String(), "previous run still in progress")

	runs, err := b.store.RecentRuns(context.Background(), 10)
	require.NoError(t, err)
	for i := len(runs) - 1; i > 0; i-- {
		older, newer := runs[i], runs[i-1]
		require.NotNil(t, older.FinishedAt, "run %d", older.ID)
		require.False(t, newer.StartedAt.Before(*older.FinishedAt), "run %d started before run %d ended", newer.ID, older.ID)
	}
}

// A task that asynq archived while the ledger still counts it pending (its
// worker died on the last attempt) is found by resume and recorded as a dead
// letter, so the run ends instead of blocking its client forever.
func TestResumeRecordsTasksArchivedBehindTheLedgersBack(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 5
	mc.FailEvery, mc.HangPercent = 0, 0
	b := setup(t, mc, []string{"acme"}, map[string]string{"SYNC_CALL": "false"})
	run, err := b.store.CreateRun(context.Background(), "acme")
	require.NoError(t, err)
	// Page 1 is fetched and recorded, but one of its save tasks is archived
	// directly, as asynq's recoverer does after a crash on the last retry.
	items := []store.Item{{Key: "campaign_1", Record: []byte(`{"id":"campaign_1"}`)}}
	_, err = b.store.RecordPage(context.Background(), store.FetchedPage{RunID: run.ID, Page: 1, Items: items})
	require.NoError(t, err)
	aq := asynq.NewClientFromRedisClient(b.rdb)
	_, err = aq.Enqueue(asynq.NewTask(tasks.TypeSave, []byte(fmt.Sprintf(`{"run_id":%d}`, run.ID))), asynq.Queue(tasks.QueueSaves),
		asynq.TaskID(tasks.SaveID(run.ID, "campaign_1")))
	require.NoError(t, err)
	require.NoError(t, asynq.NewInspectorFromRedisClient(b.rdb).ArchiveTask(tasks.QueueSaves, tasks.SaveID(run.ID, "campaign_1")))

	resumed, err := b.starter(t).Resume(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, resumed[0].Archived)
	got, err := b.store.Run(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusDoneWithFailures, got.Status)
	dead, err := b.store.DeadLetters(context.Background(), run.ID)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, "campaign_1", dead[0].ItemKey)
}

// Saves that Resume enqueues again are paced like a fetched page's: they
// wait in asynq's schedule, one per span the client's budget serves,
// instead of all queueing at once to cycle through the queue for budget.
func TestResumedSavesArePaced(t *testing.T) {
	t.Parallel()
	b := setup(t, mockConfig(), []string{"acme"}, pacedEnv)
	run, err := b.store.CreateRun(context.Background(), "acme")
	require.NoError(t, err)
	// Page 1 was fetched and recorded; then Redis lost its tasks.
	var items []store.Item
	for i := 1; i <= 10; i++ {
		key := fmt.Sprintf("campaign_%d", i)
		items = append(items, store.Item{Key: key, Record: []byte(fmt.Sprintf(`{"id":%q}`, key))})
	}
	_, err = b.store.RecordPage(context.Background(), store.FetchedPage{RunID: run.ID, Page: 1, Items: items})
	require.NoError(t, err)

	resumed, err := b.starter(t).Resume(context.Background())
	require.NoError(t, err)
	require.Equal(t, 10, resumed[0].Items)

	// One send per 1.2 s span, each due a second before its slot: all but
	// the first two wait in the schedule, in seconds of their own.
	scheduled, err := asynq.NewInspectorFromRedisClient(b.rdb).ListScheduledTasks(tasks.QueueSaves)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(scheduled), 8)
	due := make([]time.Time, len(scheduled))
	for i, ti := range scheduled {
		due[i] = ti.NextProcessAt
	}
	requireOnePerSecond(t, due, 6*time.Second)
}
