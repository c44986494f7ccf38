package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
	"github.com/adsync/adsync/internal/wiring"
)

// One client, 100 campaigns, default faults (a 503 on every 5th list
// request, 10% of requests never answered): exactly the mock's campaigns
// land, value for value, without a single 429.
func TestSyncOneClientWithDefaultFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, mockConfig(), []string{"acme"}, nil)
	b.startWorker(t)
	start := time.Now()
	runs := b.sync(t, "acme")
	wall := time.Since(start)

	require.Equal(t, store.StatusDone, runs[0].Status, "reason: %s", runs[0].Reason)
	require.Equal(t, 100, runs[0].CampaignsSaved)
	require.Equal(t, 10, runs[0].PagesDone)
	b.requireGroundTruth(t, "acme")
	st := b.mock.Stats().Clients["acme"]
	require.Zero(t, st.RateLimited, "429s served")
	require.LessOrEqual(t, st.MaxInWindow, int64(10))
	t.Logf("wall=%s counted=%d hangs=%d 429s=%d", wall.Round(time.Millisecond), st.Counted, st.Hangs, st.RateLimited)
}

// Every 10th record is poison: 90 rows land, and each bad record is in
// asynq's archive and in the dead-letter table with a reason naming the
// field at fault.
func TestPoisonRecordsAreDeadLettered(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.PoisonEvery = 10
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	runs := b.sync(t, "acme")

	require.Equal(t, store.StatusDoneWithFailures, runs[0].Status)
	require.Equal(t, 90, runs[0].CampaignsSaved)
	require.Equal(t, 10, runs[0].CampaignsDead)
	b.requireGroundTruth(t, "acme")

	wantReason := map[string]string{}
	for _, c := range mockCatalogue(b, "acme") {
		if c.Poison != "" {
			wantReason[c.ID] = strings.SplitN(c.Poison, ":", 2)[0]
		}
	}
	dead, err := b.store.DeadLetters(context.Background(), runs[0].ID)
	require.NoError(t, err)
	require.Len(t, dead, 10)
	for _, d := range dead {
		require.NotEmpty(t, d.Reason)
		if field, ok := wantReason[d.ItemKey]; ok {
			require.Contains(t, d.Reason, field, "reason of %s", d.ItemKey)
		}
	}

	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	archived, err := insp.ListArchivedTasks(tasks.QueueSaves, asynq.PageSize(100))
	require.NoError(t, err)
	require.Len(t, archived, 10)
	for _, a := range archived {
		require.Contains(t, a.LastErr, "invalid campaign: field ")
	}
}

// Two runs of the same client: still 100 rows, two runs in the ledger.
func TestSameRunTwice(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 30
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	first := b.sync(t, "acme")
	second := b.sync(t, "acme")
	require.NotEqual(t, first[0].ID, second[0].ID)
	require.Equal(t, store.StatusDone, second[0].Status)
	b.requireGroundTruth(t, "acme")
	recent, err := b.store.RecentRuns(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, recent, 2)
}

// A page task that runs again after its page was recorded (asynq delivers
// at least once; a late page's has_more can re-plan a page done meanwhile)
// spends no rate-limited request on it: the ledger says what is left.
func TestPageDeliveredAgainIsNotFetchedAgain(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 20
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	runs := b.sync(t, "acme")
	require.Equal(t, store.StatusDone, runs[0].Status, "reason: %s", runs[0].Reason)
	counted := b.mock.Stats().Clients["acme"].Counted

	q := wiring.Queue(asynq.NewClientFromRedisClient(b.rdb), b.cfg)
	require.NoError(t, q.EnqueuePages(context.Background(), runs[0].ID, "acme", b.cfg.PageSize, []int{1, 2}))
	inspector := asynq.NewInspectorFromRedisClient(b.rdb)
	testenv.WaitFor(t, time.Minute, "both page tasks to run again and complete", func() bool {
		for _, q := range tasks.PageQueues {
			info, err := inspector.GetQueueInfo(q)
			require.NoError(t, err)
			if info.Size > 0 || info.Active > 0 {
				return false
			}
		}
		return true
	})
	require.Equal(t, counted, b.mock.Stats().Clients["acme"].Counted, "requests the platform counted")
	require.Equal(t, 2, strings.Count(b.logs.String(), "page already recorded"))
}

// Tokens live 2 s here while the run takes longer: it refreshes and
// completes.
func TestTokenExpiresMidRun(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 40
	mc.TokenTTL = 120 * time.Second // 2 s at time scale 60
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	runs := b.sync(t, "acme")
	require.Equal(t, store.StatusDone, runs[0].Status, "reason: %s", runs[0].Reason)
	b.requireGroundTruth(t, "acme")
	require.GreaterOrEqual(t, b.mock.Stats().Clients["acme"].Requests["auth"]["200"], int64(2), "tokens issued")
}

// Campaigns that appear after the first page was served land too: the run
// follows has_more rather than the first total.
func TestCatalogueGrowsMidRun(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 30
	mc.GrowBy = 15
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	runs := b.sync(t, "acme")
	require.Equal(t, store.StatusDone, runs[0].Status, "reason: %s", runs[0].Reason)
	require.Equal(t, 45, b.mock.CatalogueSize("acme"))
	require.Equal(t, 45, runs[0].CampaignsSaved)
	b.requireGroundTruth(t, "acme")
}
