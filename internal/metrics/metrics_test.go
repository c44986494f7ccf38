package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/metrics"
	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// ledger is a run ledger held in memory: what the store would answer.
type ledger struct {
	recent, running []store.Run
	err             error
}

func (l ledger) RecentRuns(context.Context, int) ([]store.Run, error) { return l.recent, l.err }
func (l ledger) RunningRuns(context.Context) ([]store.Run, error)     { return l.running, l.err }

// serve builds Metrics over a leased Redis database and the ledger, and
// returns them with the URL of their /metrics.
func serve(t *testing.T, l ledger) (*metrics.Metrics, *asynq.Client, string) {
	t.Helper()
	rdb := testenv.Redis(t)
	m := metrics.New(metrics.Options{Queues: asynq.NewInspectorFromRedisClient(rdb), Runs: l})
	hs := httptest.NewServer(m.Handler())
	t.Cleanup(hs.Close)
	return m, asynq.NewClientFromRedisClient(rdb), hs.URL
}

// Each event lands on its client's series; a scrape parsed by Prometheus'
// own parser reads them back.
func TestEventsCountPerClient(t *testing.T) {
	t.Parallel()
	m, _, url := serve(t, ledger{})
	for range 3 {
		m.CampaignSaved("acme")
	}
	m.CampaignSaved("globex")
	m.CampaignDead("acme")
	m.PageFetched("acme")
	m.PageFetched("acme")
	m.Requeued("acme", 1500*time.Millisecond)
	m.Request("acme", "list", platform.OutcomeOK, 120*time.Millisecond)
	m.Request("acme", "sync", platform.OutcomeTransient, 10*time.Second)
	m.Request("acme", "sync", platform.OutcomeOK, 2*time.Second)
	m.TokenRefreshed("acme")
	m.Waited("acme", 0)
	m.Waited("acme", 250*time.Millisecond)
	m.NoBudget("acme", 40*time.Second)
	m.GaveUp("acme", 30*time.Millisecond)

	f := opstest.Scrape(t, url)
	acme := map[string]string{"client": "acme"}
	require.Equal(t, 3.0, f.Sum(t, "adsync_campaigns_saved_total", acme))
	require.Equal(t, 1.0, f.Sum(t, "adsync_campaigns_saved_total", map[string]string{"client": "globex"}))
	require.Equal(t, 1.0, f.Sum(t, "adsync_campaigns_dead_lettered_total", acme))
	require.Equal(t, 2.0, f.Sum(t, "adsync_pages_fetched_total", acme))
	require.Equal(t, 1.0, f.Sum(t, "adsync_tasks_requeued_total", acme))
	require.Equal(t, 1.0, f.Sum(t, "adsync_requeue_delay_seconds", nil))
	require.Equal(t, 1.0, f.Sum(t, "adsync_platform_requests_total", map[string]string{"client": "acme", "endpoint": "sync", "outcome": "transient"}))
	require.Equal(t, 3.0, f.Sum(t, "adsync_platform_requests_total", acme))
	require.Equal(t, 2.0, f.Sum(t, "adsync_platform_request_duration_seconds", map[string]string{"endpoint": "sync"}))
	require.Equal(t, 1.0, f.Sum(t, "adsync_platform_token_refreshes_total", acme))
	require.Equal(t, 2.0, f.Sum(t, "adsync_ratelimit_wait_seconds", nil))
	require.InDelta(t, 0.25, f.Sum(t, "adsync_ratelimit_wait_seconds_total", acme), 1e-9)
	require.Equal(t, 1.0, f.Sum(t, "adsync_ratelimit_no_budget_total", acme))
	require.Equal(t, 1.0, f.Sum(t, "adsync_ratelimit_slots_given_up_total", acme))
	require.Contains(t, f, "go_goroutines")
	require.Contains(t, f, "process_start_time_seconds")
}

// Each endpoint's current timeout is a gauge that follows the last value
// reported.
func TestTimeoutGaugePerEndpoint(t *testing.T) {
	t.Parallel()
	m, _, url := serve(t, ledger{})
	m.Timeout(platform.EndpointSync, 10*time.Second)
	m.Timeout(platform.EndpointSync, 120*time.Millisecond)
	m.Timeout(platform.EndpointList, 100*time.Millisecond)
	f := opstest.Scrape(t, url)
	require.InDelta(t, 0.12, f.Sum(t, "adsync_platform_timeout_seconds", map[string]string{"endpoint": "sync"}), 1e-9)
	require.InDelta(t, 0.1, f.Sum(t, "adsync_platform_timeout_seconds", map[string]string{"endpoint": "list"}), 1e-9)
}

// Prometheus naming: counters end in _total, every adsync metric has help,
// durations are in seconds.
func TestNamesFollowConventions(t *testing.T) {
	t.Parallel()
	m, _, url := serve(t, ledger{})
	m.CampaignSaved("acme")
	for name, fam := range opstest.Scrape(t, url) {
		if !strings.HasPrefix(name, "adsync_") {
			continue
		}
		require.NotEmpty(t, fam.GetHelp(), name)
		if fam.GetType().String() == "COUNTER" {
			require.True(t, strings.HasSuffix(name, "_total"), "counter %s", name)
		}
		if strings.Contains(name, "duration") || strings.Contains(name, "wait") || strings.Contains(name, "delay") || strings.Contains(name, "age") {
			require.Contains(t, name, "_seconds", name)
		}
	}
}

// asynq's queue sizes by state come from Redis at scrape time.
func TestQueueMetricsFromRedis(t *testing.T) {
	t.Parallel()
	_, client, url := serve(t, ledger{})
	save := asynq.NewTask(tasks.TypeSave, []byte(`{}`))
	for i := range 3 {
		_, err := client.Enqueue(save, asynq.Queue(tasks.QueueSaves), asynq.TaskID(fmt.Sprintf("save-%d", i)))
		require.NoError(t, err)
	}
	_, err := client.Enqueue(save, asynq.Queue(tasks.QueueSaves), asynq.ProcessIn(time.Hour))
	require.NoError(t, err)

	f := opstest.Scrape(t, url)
	require.Equal(t, 3.0, f.Sum(t, "asynq_tasks_enqueued_total", map[string]string{"queue": "saves", "state": "pending"}))
	require.Equal(t, 1.0, f.Sum(t, "asynq_tasks_enqueued_total", map[string]string{"queue": "saves", "state": "scheduled"}))
	require.Equal(t, 0.0, f.Sum(t, "asynq_tasks_enqueued_total", map[string]string{"queue": "saves", "state": "archived"}))
	require.Equal(t, 4.0, f.Sum(t, "asynq_queue_size", map[string]string{"queue": "saves"}))
}

// Each client's last finished run, and what runs now, read from the
// ledger at scrape time.
func TestRunMetricsFromLedger(t *testing.T) {
	t.Parallel()
	now := time.Now()
	at := func(ago time.Duration) *time.Time { ts := now.Add(-ago); return &ts }
	running := store.Run{ID: 5, ClientID: "globex", Status: store.StatusRunning, StartedAt: now.Add(-90 * time.Second)}
	l := ledger{
		running: []store.Run{running},
		recent: []store.Run{ // newest first, as the store returns them
			running,
			{ID: 4, ClientID: "acme", Status: store.StatusDoneWithFailures, StartedAt: now.Add(-11 * time.Minute), FinishedAt: at(time.Minute)},
			{ID: 3, ClientID: "globex", Status: store.StatusFailed, StartedAt: now.Add(-time.Hour), FinishedAt: at(50 * time.Minute)},
			{ID: 2, ClientID: "acme", Status: store.StatusDone, StartedAt: now.Add(-2 * time.Hour), FinishedAt: at(time.Hour)},
		},
	}
	_, _, url := serve(t, l)

	f := opstest.Scrape(t, url)
	require.Equal(t, 1.0, f.Sum(t, "adsync_runs_running", nil))
	require.InDelta(t, 90, f.Sum(t, "adsync_run_oldest_running_age_seconds", nil), 5)
	require.InDelta(t, 600, f.Sum(t, "adsync_last_run_duration_seconds", map[string]string{"client": "acme"}), 0.01)
	require.InDelta(t, float64(now.Add(-time.Minute).Unix()), f.Sum(t, "adsync_last_run_end_timestamp_seconds", map[string]string{"client": "acme"}), 1)
	status := func(client, s string) float64 {
		return f.Sum(t, "adsync_last_run_status", map[string]string{"client": client, "status": s})
	}
	require.Equal(t, 1.0, status("acme", store.StatusDoneWithFailures))
	require.Equal(t, 0.0, status("acme", store.StatusDone))
	require.Equal(t, 1.0, status("globex", store.StatusFailed))
	require.Equal(t, 0.0, status("globex", store.StatusDone))
}

// An unreachable ledger costs the run metrics of that scrape, not the
// others.
func TestLedgerErrorKeepsOtherMetrics(t *testing.T) {
	t.Parallel()
	m, _, url := serve(t, ledger{err: errors.New("store: list runs: connection refused")})
	m.CampaignSaved("acme")
	f := opstest.Scrape(t, url)
	require.Equal(t, 1.0, f.Sum(t, "adsync_campaigns_saved_total", map[string]string{"client": "acme"}))
	require.NotContains(t, f, "adsync_runs_running")
}
