package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
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
	bigRun, err := b.planner(t).Start(context.Background(), []string{"big"})
	require.NoError(t, err)
	// Let the big client's budget run dry before the small one starts.
	waitSaved(t, b, bigRun[0].RunID, 15)
	smallRun, err := b.planner(t).Start(context.Background(), []string{"small"})
	require.NoError(t, err)
	runs := b.waitRuns(t, []int64{bigRun[0].RunID, smallRun[0].RunID}, 3*time.Minute)
	big, small := runs[0], runs[1]
	require.Equal(t, store.StatusDone, big.Status)
	require.Equal(t, store.StatusDone, small.Status)
	require.True(t, small.FinishedAt.Before(*big.FinishedAt), "the client with budget should finish first")
}

func waitSaved(t *testing.T, b *bundle, runID int64, n int) {
	t.Helper()
	testenv.WaitFor(t, time.Minute, "saved campaigns", func() bool {
		runs, err := b.store.Runs(context.Background(), []int64{runID})
		require.NoError(t, err)
		return runs[0].CampaignsSaved >= n
	})
}
