package e2e

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// Two limiters with their own Redis connections (two worker processes, as
// far as Redis can tell) and forty goroutines hammer one client's budget
// with real requests for four windows: the mock, which counts every arrival,
// never sees more than L of them inside one window, and refuses none.
func TestHammeredBudgetNeverExceedsTheWindow(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.FailEvery, mc.HangPercent = 0, 0
	b := setup(t, mc, []string{"acme"}, nil)
	token := fetchToken(t, b)

	var wg sync.WaitGroup
	deadline := time.Now().Add(4 * b.cfg.RateWindow)
	sent := make(chan struct{}, 10000)
	for p := 0; p < 2; p++ {
		rdb := redis.NewClient(&redis.Options{Addr: b.rdb.Options().Addr, DB: b.rdb.Options().DB})
		t.Cleanup(func() { _ = rdb.Close() })
		lim, err := ratelimit.New(rdb, ratelimit.Options{Limit: b.cfg.RateLimit, Window: b.cfg.RateWindow,
			Margin: b.cfg.RateMargin, MaxInPlaceWait: 10 * b.cfg.RateWindow})
		require.NoError(t, err)
		for g := 0; g < 20; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					if err := lim.Wait(context.Background(), "acme"); err != nil {
						t.Error(err)
						return
					}
					req, _ := http.NewRequest(http.MethodGet, b.cfg.PlatformURL+"/api/campaigns?page=1", nil)
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("X-Client-ID", "acme")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					sent <- struct{}{}
				}
			}()
		}
	}
	wg.Wait()
	st := b.mock.Stats().Clients["acme"]
	require.GreaterOrEqual(t, len(sent), 3*b.cfg.RateLimit, "the budget was used, not starved")
	require.LessOrEqual(t, st.MaxInWindow, int64(b.cfg.RateLimit))
	require.Zero(t, st.RateLimited)
}

// A client whose budget is spent does not slow a client with budget: a
// small sync started after a large one of another client finishes first,
// although both share one worker with a handful of slots and the large
// client's tasks fill its queue.
func TestEmptyBudgetDoesNotDelayOtherClients(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.FailEvery, mc.HangPercent = 0, 0
	mc.ClientCampaigns = map[string]int{"big": 120, "small": 10}
	b := setup(t, mc, []string{"big", "small"}, map[string]string{"WORKER_CONCURRENCY": "4"})
	b.startWorker(t)
	bigRun, err := b.starter(t).Start(context.Background(), []string{"big"})
	require.NoError(t, err)
	// Let the big client's budget run dry before the small one starts.
	waitSaved(t, b, bigRun[0].RunID, 15)
	smallRun, err := b.starter(t).Start(context.Background(), []string{"small"})
	require.NoError(t, err)
	runs := b.waitRuns(t, []int64{bigRun[0].RunID, smallRun[0].RunID}, 3*time.Minute)
	big, small := runs[0], runs[1]
	require.Equal(t, store.StatusDone, big.Status)
	require.Equal(t, store.StatusDone, small.Status)
	require.True(t, small.FinishedAt.Before(*big.FinishedAt), "the client with budget should finish first")
}

// A fetched page's save tasks wait in asynq's schedule, spread at the pace
// the client's budget can serve their sync calls (L per window plus
// margin), instead of all queueing at once to cycle through the queue for
// budget; the run still saves everything within the limit.
func TestSavesArePacedToTheBudget(t *testing.T) {
	t.Parallel()
	b, runID := pacedSync(t, "paced", 10)
	// The i-th save (from 0) is planned 1.2 s·(i+1) after the page, less a
	// 1 s lead, so the last six wait five seconds or more: they are seen in
	// the schedule even by a slow poll.
	due := scheduledSaves(t, b, 0, 6)
	// Six or more saves 1.2 s apart; asynq keeps whole seconds.
	requireOnePerSecond(t, slices.Collect(maps.Values(due)), 5*time.Second)

	runs := b.waitRuns(t, []int64{runID}, time.Minute)
	require.Equal(t, store.StatusDone, runs[0].Status)
	require.Equal(t, 10, runs[0].CampaignsSaved)
	st := b.mock.Stats().Clients["paced"]
	require.Zero(t, st.RateLimited)
	require.LessOrEqual(t, st.MaxInWindow, int64(1))
}

// The pages a page reveals are fetched at once and counted in the plan, so
// that its saves are planned after them instead of into the slots they
// take, where they would find no budget and go back to the queue.
func TestSavesArePlannedAfterThePagesTheirPageRevealed(t *testing.T) {
	t.Parallel()
	b, _ := pacedSync(t, "paged", 20)
	due := scheduledSaves(t, b, 1, 10)
	// One send per 1.2 s span. Page 1 arrived at a; page 2 has the next
	// slot, a+1.2 s, so page 1's first save is planned at a+2.4 s and due a
	// second before (RATE_WAIT_IN_PLACE 2s). Planned into page 2's slot,
	// it would be due at a+0.2 s. asynq keeps whole seconds.
	arrived := b.mock.Stats().Clients["paged"].FirstArrival
	for id, at := range due {
		require.GreaterOrEqual(t, at.Unix(), arrived.Add(1300*time.Millisecond).Unix(), "save %s is due in the slot of page 2", id)
	}
}

// pacedEnv gives a client a budget of one send per 1.2 s span, with paced
// saves due a second before their slots.
var pacedEnv = map[string]string{"PAGE_SIZE": "10", "PLATFORM_RATE_LIMIT": "1",
	"PLATFORM_RATE_WINDOW": "1s", "PLATFORM_RATE_MARGIN": "200ms", "RATE_WAIT_IN_PLACE": "2s"}

// pacedSync starts a worker and a run of one client of n campaigns on a
// platform without faults, under pacedEnv.
func pacedSync(t *testing.T, clientID string, n int) (*bundle, int64) {
	t.Helper()
	mc := mockConfig()
	mc.FailEvery, mc.HangPercent = 0, 0
	mc.ClientCampaigns = map[string]int{clientID: n}
	b := setup(t, mc, []string{clientID}, pacedEnv)
	b.startWorker(t)
	started, err := b.starter(t).Start(context.Background(), []string{clientID})
	require.NoError(t, err)
	return b, started[0].RunID
}

// scheduledSaves watches asynq's schedule until it has seen n save tasks
// (of the page, or of any page if page is 0) and returns when each was
// due, by task id.
func scheduledSaves(t *testing.T, b *bundle, page, n int) map[string]time.Time {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	due := map[string]time.Time{}
	testenv.WaitFor(t, time.Minute, "saves in the schedule", func() bool {
		scheduled, err := insp.ListScheduledTasks(tasks.QueueSaves)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return false
		}
		require.NoError(t, err)
		for _, ti := range scheduled {
			p, err := tasks.DecodeSave(ti.Payload)
			require.NoError(t, err)
			if page == 0 || p.Page == page {
				due[ti.ID] = ti.NextProcessAt
			}
		}
		return len(due) >= n
	})
	return due
}

// requireOnePerSecond checks that tasks paced to a budget of one send per
// 1.2 s are due in seconds of their own, spread over at least spread.
func requireOnePerSecond(t *testing.T, due []time.Time, spread time.Duration) {
	t.Helper()
	seconds := map[int64]bool{}
	for _, at := range due {
		require.False(t, seconds[at.Unix()], "two saves due in second %d, which serves one", at.Unix())
		seconds[at.Unix()] = true
	}
	require.GreaterOrEqual(t, slices.MaxFunc(due, time.Time.Compare).Sub(slices.MinFunc(due, time.Time.Compare)), spread)
}

func waitSaved(t *testing.T, b *bundle, runID int64, n int) {
	t.Helper()
	testenv.WaitFor(t, time.Minute, "saved campaigns", func() bool {
		runs, err := b.store.Runs(context.Background(), []int64{runID})
		require.NoError(t, err)
		return runs[0].CampaignsSaved >= n
	})
}
