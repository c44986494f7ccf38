package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/bench/benchkit"
	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/testenv"
)

// saveRun saves n campaigns of one client's run through adsync's store,
// concurrently as tasks do, with group commit, then closes the store as an
// exiting worker does. Each campaign is saved times times: every one
// once, then every one again, as tasks delivered again after their save
// committed would.
func saveRun(t *testing.T, url string, n, times int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenWith(ctx, url, store.Options{WriteBatchSize: 16, WriteBatchWait: 2 * time.Millisecond})
	require.NoError(t, err)
	defer st.Close()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	items := make([]store.Item, n)
	for i := range items {
		items[i] = store.Item{Key: fmt.Sprintf("campaign_%d", i+1), Record: []byte(`{}`)}
	}
	_, err = st.RecordPage(ctx, store.FetchedPage{RunID: run.ID, Page: 1, Items: items, Total: n, PlanThrough: 1})
	require.NoError(t, err)
	for range times {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, it := range items {
			wg.Go(func() {
				errs <- st.SaveCampaign(ctx, store.SavedCampaign{RunID: run.ID, ClientID: "acme", ItemKey: it.Key,
					Campaign: campaign.Campaign{ID: it.Key, Name: "n", Status: "active", Budget: "1.00", CreatedAt: time.Unix(0, 0).UTC()}})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
}

// migrated is a new, migrated database for one test.
func migrated(t *testing.T) string {
	t.Helper()
	url := testenv.DatabaseURL(t)
	require.NoError(t, store.Migrate(context.Background(), url))
	return url
}

// PostgreSQL's counts, read once the writers have gone, tell a pass that
// saved each campaign once from one that saved them twice, whatever
// batches the saves were grouped in; a removal mark is no save.
func TestCampaignWritesTellSavedOnceFromTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 60

	url := migrated(t)
	saveRun(t, url, n, 1)
	c, err := countCampaignWrites(ctx, url, 10*time.Second)
	require.NoError(t, err)
	require.EqualValues(t, n, c.rows)
	require.EqualValues(t, n, c.saves(), "each campaign saved once is one row write each (%s)", c)
	require.Zero(t, c.rollbacks, "the store rolled back a transaction in a plain run")
	require.True(t, c.savedOnce(n))
	require.False(t, c.savedOnce(n+1), "a missing campaign is not every campaign saved")

	// A run's listing marks a campaign removed: an update, not a save.
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE campaigns SET removed_at = now() WHERE id = 'campaign_1'`)
	require.NoError(t, err)
	_, err = countCampaignWrites(ctx, url, 200*time.Millisecond)
	require.ErrorContains(t, err, "still open", "a writer still connected may not have flushed its counts")
	require.NoError(t, conn.Close(ctx))
	c, err = countCampaignWrites(ctx, url, 10*time.Second)
	require.NoError(t, err)
	require.EqualValues(t, n, c.saves(), "a removal mark counted as a save (%s)", c)
	require.True(t, c.savedOnce(n))

	// A run that saves every campaign twice: the rows are the same, the
	// saves are not.
	url = migrated(t)
	saveRun(t, url, n, 2)
	c, err = countCampaignWrites(ctx, url, 10*time.Second)
	require.NoError(t, err)
	require.EqualValues(t, n, c.rows)
	require.EqualValues(t, 2*n, c.saves(), "saves of campaigns already saved went uncounted (%s)", c)
	require.False(t, c.savedOnce(n))
}

// The database is the one every worker of the pass ran with, or an error.
func TestPassDatabase(t *testing.T) {
	const a, b = "postgres://x@127.0.0.1/a", "postgres://x@127.0.0.1/b"
	url, err := passDatabase([]benchkit.Watched{{PID: 1, DatabaseURL: a}, {PID: 2, DatabaseURL: a}})
	require.NoError(t, err)
	require.Equal(t, a, url)
	_, err = passDatabase([]benchkit.Watched{{PID: 1, DatabaseURL: a}, {PID: 2, DatabaseURL: b}})
	require.ErrorContains(t, err, "different databases")
	_, err = passDatabase([]benchkit.Watched{{PID: 1, DatabaseURL: a}, {PID: 2}})
	require.ErrorContains(t, err, "no DATABASE_URL")
	_, err = passDatabase(nil)
	require.Error(t, err)
}
