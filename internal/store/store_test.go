package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/testenv"
)

func setup(t *testing.T) *Store {
	t.Helper()
	return setupWith(t, DefaultOptions())
}

func items(page, n int) []Item {
	out := make([]Item, n)
	for i := range out {
		id := fmt.Sprintf("campaign_%d", (page-1)*10+i+1)
		out[i] = Item{Key: id, Record: []byte(`{"id":"` + id + `"}`)}
	}
	return out
}

func saved(runID int64, key string) SavedCampaign {
	return SavedCampaign{RunID: runID, ClientID: "acme", ItemKey: key, Campaign: campaign.Campaign{
		ID: key, Name: "n", Status: "active", Budget: "10.50", CreatedAt: time.Unix(0, 0).UTC()}}
}

// Migrations are safe when many processes start at once, and a second run
// is a no-op.
func TestMigrateConcurrentlyAndCreatesDatabase(t *testing.T) {
	t.Parallel()
	url := withSuffix(t, testenv.DatabaseURL(t), "_new") // a database that does not exist yet
	t.Cleanup(func() { dropDatabase(t, url) })
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = Migrate(context.Background(), url) }()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, Migrate(context.Background(), url))
}

func TestOneRunningRunPerClient(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	r1, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	_, err = st.CreateRun(ctx, "acme")
	var busy *RunInProgressError
	require.True(t, errors.As(err, &busy))
	require.Equal(t, r1.ID, busy.RunID)
	_, err = st.CreateRun(ctx, "other")
	require.NoError(t, err)
}

// A run ends done exactly when its last page and record end, and replaying
// a page changes nothing.
func TestRunLifecycleIsExactAndIdempotent(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)

	res, err := st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 1, Items: items(1, 10), PlanThrough: 2})
	require.NoError(t, err)
	require.Equal(t, []int{2}, res.PendingPages)
	require.Len(t, res.PendingItems, 10)
	require.Equal(t, []int{2}, res.Planned, "page 2 is new to the plan")
	require.Len(t, res.Listed, 10, "every record is new to the ledger")
	again, err := st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 1, Items: items(1, 10), PlanThrough: 2})
	require.NoError(t, err)
	require.Empty(t, again.Planned, "a replayed page plans nothing new")
	require.Empty(t, again.Listed, "nor lists anything new")
	again.Planned, again.Listed, res.Planned, res.Listed = nil, nil, nil, nil
	require.Equal(t, res, again, "a replayed page returns the same pending work")

	_, err = st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 2, Items: items(2, 5)})
	require.NoError(t, err)
	got, err := st.Run(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, 2, got.PagesPlanned)
	require.Equal(t, 2, got.PagesDone)
	require.Equal(t, 15, got.CampaignsSeen)

	for i, it := range append(items(1, 10), items(2, 5)...) {
		require.Equal(t, StatusRunning, mustRun(t, st, run.ID).Status, "before item %d", i)
		require.NoError(t, st.SaveCampaign(ctx, saved(run.ID, it.Key)))
		require.NoError(t, st.SaveCampaign(ctx, saved(run.ID, it.Key)), "saving twice is harmless")
	}
	got = mustRun(t, st, run.ID)
	require.Equal(t, StatusDone, got.Status)
	require.Equal(t, 15, got.CampaignsSaved)
	require.NotNil(t, got.FinishedAt)
	rows, err := st.Campaigns(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, rows, 15)
	require.Equal(t, "10.50", rows[0].Budget)
}

// A page task that runs again after its page was recorded learns from the
// ledger what the page left pending, without fetching it.
func TestRecordedPageTellsWhatIsLeft(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	_, done, err := st.RecordedPage(ctx, run.ID, 1)
	require.NoError(t, err)
	require.False(t, done, "page 1 is planned, not recorded")

	recorded, err := st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 1, Items: items(1, 10), PlanThrough: 3})
	require.NoError(t, err)
	left, done, err := st.RecordedPage(ctx, run.ID, 1)
	require.NoError(t, err)
	require.True(t, done)
	recorded.Planned, recorded.Listed = nil, nil
	require.Equal(t, recorded, left, "the same pending work, none of it new")

	require.NoError(t, st.SaveCampaign(ctx, saved(run.ID, "campaign_3")))
	_, err = st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 2, Items: items(2, 10)})
	require.NoError(t, err)
	left, done, err = st.RecordedPage(ctx, run.ID, 1)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, []int{3}, left.PendingPages)
	require.Len(t, left.PendingItems, 9, "campaign_3 is saved")
	require.NotContains(t, left.PendingItems, items(1, 10)[2])

	_, done, err = st.RecordedPage(ctx, run.ID, 3)
	require.NoError(t, err)
	require.False(t, done, "page 3 is planned, not recorded")
	_, done, err = st.RecordedPage(ctx, run.ID, 7)
	require.NoError(t, err)
	require.False(t, done, "page 7 is not even planned")

	_, _, err = st.RecordedPage(ctx, run.ID+1000, 1)
	require.ErrorIs(t, err, ErrRunNotFound)
	_, err = st.CancelClientRuns(ctx, "acme", "removed")
	require.NoError(t, err)
	left, done, err = st.RecordedPage(ctx, run.ID, 1)
	require.NoError(t, err)
	require.True(t, left.Cancelled, "the run was cancelled")
	require.False(t, done, "a cancelled run's page is neither fetched nor re-enqueued")
}

// A dead-lettered record ends its run done_with_failures; replayed and
// saved, the run becomes done and the dead letter resolved.
func TestDeadLetterAndReplay(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	_, err = st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 1, Items: items(1, 2)})
	require.NoError(t, err)
	require.NoError(t, st.SaveCampaign(ctx, saved(run.ID, "campaign_1")))
	dl := DeadLetter{TaskID: "t2", TaskType: "campaigns:save", RunID: run.ID, ClientID: "acme",
		ItemKey: "campaign_2", Reason: "invalid campaign: field budget: is negative", Payload: []byte(`{}`)}
	require.NoError(t, st.RecordDeadLetter(ctx, dl))
	require.NoError(t, st.RecordDeadLetter(ctx, dl), "recording twice counts one record")
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusDoneWithFailures, got.Status)
	require.Equal(t, 1, got.CampaignsDead)
	dead, err := st.DeadLetters(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, 2, dead[0].Failures)

	require.NoError(t, st.SaveCampaign(ctx, saved(run.ID, "campaign_2")))
	got = mustRun(t, st, run.ID)
	require.Equal(t, StatusDone, got.Status)
	require.Equal(t, 0, got.CampaignsDead)
	require.Equal(t, 2, got.CampaignsSaved)
	dead, err = st.DeadLetters(ctx, run.ID)
	require.NoError(t, err)
	require.NotNil(t, dead[0].ResolvedAt)
}

// A page that fails for good fails its run with the reason.
func TestFailedPageFailsRun(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	require.NoError(t, st.RecordDeadLetter(ctx, DeadLetter{TaskID: "p1", TaskType: "campaigns:fetch_page",
		RunID: run.ID, ClientID: "acme", Page: 1, Reason: "auth refused", Payload: []byte(`{}`)}))
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusFailed, got.Status)
	require.Equal(t, "page 1: auth refused", got.Reason)
	_, err = st.CreateRun(ctx, "acme")
	require.NoError(t, err, "a failed run does not block the next")
}

// Concurrent saves of one run keep the counters exact.
func TestConcurrentSavesKeepCountersExact(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	var all []Item
	for p := 1; p <= 5; p++ {
		page := items(p, 10)
		_, err := st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: p, Items: page, PlanThrough: 5})
		require.NoError(t, err)
		all = append(all, page...)
	}
	var wg sync.WaitGroup
	for _, it := range all {
		for range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); require.NoError(t, st.SaveCampaign(ctx, saved(run.ID, it.Key))) }()
		}
	}
	wg.Wait()
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusDone, got.Status)
	require.Equal(t, 50, got.CampaignsSaved)
	require.Equal(t, 50, got.CampaignsSeen)
}

func TestUnfinishedWork(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	_, err = st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 1, Items: items(1, 3), PlanThrough: 3})
	require.NoError(t, err)
	require.NoError(t, st.SaveCampaign(ctx, saved(run.ID, "campaign_1")))
	u, err := st.UnfinishedWork(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, u.Pages)
	require.Len(t, u.Items, 2)
	require.Equal(t, "campaign_2", u.Items[0].Key)
}

func mustRun(t *testing.T, st *Store, id int64) Run {
	t.Helper()
	r, err := st.Run(context.Background(), id)
	require.NoError(t, err)
	return r
}

// Failures to reach the database are ErrUnavailable, so the pipeline waits
// for it; errors of the data are not.
func TestUnavailableIsTellable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more
	_, err = Open(context.Background(), "postgres://adsync:secret-pw@"+addr+"/adsync?connect_timeout=2")
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotContains(t, err.Error(), "secret-pw")

	for code, down := range map[string]bool{
		pgerrcode.AdminShutdown: true, pgerrcode.CannotConnectNow: true, pgerrcode.ConnectionFailure: true,
		pgerrcode.QueryCanceled: false, pgerrcode.UniqueViolation: false, pgerrcode.NumericValueOutOfRange: false,
	} {
		err := sanitize(&pgconn.PgError{Code: code})
		require.Equal(t, down, errors.Is(err, ErrUnavailable), "SQLSTATE %s", code)
	}
	require.ErrorIs(t, sanitize(fmt.Errorf("read: %w", io.ErrUnexpectedEOF)), ErrUnavailable)
	require.NotErrorIs(t, sanitize(errors.New("no rows in result set")), ErrUnavailable)
}

// pgxpool's own settings in DATABASE_URL (pool_max_conns and the like) are
// for the pool: the migrations' single connection does not send them to
// the server, which would refuse them, and the pool takes them.
func TestDatabaseURLMayCarryPoolSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.DatabaseURL(t) + "&pool_max_conns=3&pool_min_conns=1"
	require.NoError(t, Migrate(ctx, url))
	st, err := Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	require.EqualValues(t, 3, st.pool.Config().MaxConns)
	require.EqualValues(t, 1, st.pool.Config().MinConns)
	require.Zero(t, st.pool.Config().MinIdleConns, "the URL's pool_min_conns replaces the warm connections kept by default")
}
