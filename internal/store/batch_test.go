package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/batcher"
	"github.com/adsync/adsync/internal/testenv"
)

// setupWith is setup with explicit Options.
func setupWith(t *testing.T, o Options) *Store {
	t.Helper()
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx := context.Background()
	require.NoError(t, Migrate(ctx, url))
	st, err := OpenWith(ctx, url, o)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return st
}

// startRun creates a run for client with n items on page 1, keyed
// campaign_1..campaign_n.
func startRun(t testing.TB, st *Store, client string, n int) Run {
	t.Helper()
	ctx := context.Background()
	run, err := st.CreateRun(ctx, client)
	require.NoError(t, err)
	its := make([]Item, n)
	for i := range its {
		key := fmt.Sprintf("campaign_%d", i+1)
		its[i] = Item{Key: key, Record: []byte(`{}`)}
	}
	_, err = st.RecordPage(ctx, FetchedPage{RunID: run.ID, Page: 1, Items: its})
	require.NoError(t, err)
	return run
}

func savedOf(run Run, i int) SavedCampaign {
	c := saved(run.ID, fmt.Sprintf("campaign_%d", i))
	c.ClientID = run.ClientID
	return c
}

// saveAll saves cs concurrently, each from its own goroutine as tasks do,
// and returns each outcome.
func saveAll(st *Store, cs []SavedCampaign) []error {
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { errs[i] = st.SaveCampaign(context.Background(), c) })
	}
	wg.Wait()
	return errs
}

// Concurrent saves of several runs, each campaign saved twice, batched or
// not: every acknowledged row is in the table, every run ends done with
// exact counters, and batching shares transactions between tasks.
func TestConcurrentSavesAcrossRuns(t *testing.T) {
	for name, o := range map[string]Options{
		"batched":     {WriteBatchSize: 64, WriteBatchWait: 2 * time.Millisecond},
		"one_per_row": {WriteBatchSize: 1},
	} {
		t.Run(name, func(t *testing.T) {
			st := setupWith(t, o)
			ctx := context.Background()
			var cs []SavedCampaign
			var runs []Run
			for c := range 4 {
				run := startRun(t, st, fmt.Sprintf("client-%d", c), 100)
				runs = append(runs, run)
				for i := 1; i <= 100; i++ {
					cs = append(cs, savedOf(run, i), savedOf(run, i))
				}
			}
			for _, err := range saveAll(st, cs) {
				require.NoError(t, err)
			}
			for _, r := range runs {
				got := mustRun(t, st, r.ID)
				require.Equal(t, StatusDone, got.Status)
				require.Equal(t, 100, got.CampaignsSaved)
				rows, err := st.Campaigns(ctx, r.ClientID)
				require.NoError(t, err)
				require.Len(t, rows, 100)
			}
			var commits, rows int
			require.NoError(t, st.pool.QueryRow(ctx,
				`SELECT count(DISTINCT synced_at), count(*) FROM campaigns`).Scan(&commits, &rows))
			if o.WriteBatchSize > 1 {
				require.Less(t, commits, rows/4, "rows share transactions (synced_at is the transaction's time)")
			}
		})
	}
}

// A row that PostgreSQL refuses, or that names no run, fails only its own
// save, with its own error; the rest of its batch is saved and counted.
func TestBadRowFailsOnlyItsOwnSave(t *testing.T) {
	st := setupWith(t, Options{WriteBatchSize: 100, WriteBatchWait: 200 * time.Millisecond})
	run := startRun(t, st, "acme", 40)
	cs := make([]SavedCampaign, 0, 41)
	for i := 1; i <= 40; i++ {
		cs = append(cs, savedOf(run, i))
	}
	cs[4].Campaign.Budget = "-5"    // breaks CHECK (budget >= 0)
	cs[22].Campaign.Budget = "lots" // not a numeric
	orphan := savedOf(run, 41)
	orphan.RunID = run.ID + 1000
	cs = append(cs, orphan)

	errs := saveAll(st, cs)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, errs[4], &pgErr)
	require.Equal(t, pgerrcode.CheckViolation, pgErr.Code)
	require.ErrorContains(t, errs[4], `"campaign_5"`)
	require.ErrorAs(t, errs[22], &pgErr)
	require.Equal(t, pgerrcode.InvalidTextRepresentation, pgErr.Code)
	require.ErrorContains(t, errs[22], `"campaign_23"`)
	require.ErrorIs(t, errs[40], ErrRunNotFound)
	for i, err := range errs {
		if i != 4 && i != 22 && i != 40 {
			require.NoError(t, err, "save %d", i)
		}
	}
	got := mustRun(t, st, run.ID)
	require.Equal(t, 38, got.CampaignsSaved)
	require.Equal(t, StatusRunning, got.Status, "two items are still pending")
	rows, err := st.Campaigns(context.Background(), "acme")
	require.NoError(t, err)
	require.Len(t, rows, 38)
}

// No save returns before its transaction has committed: with the batch's
// transaction held open (its last statement waits for a table lock), the
// rows are written but invisible, and every caller still waits.
func TestNoSaveReturnsBeforeCommit(t *testing.T) {
	st := setupWith(t, Options{WriteBatchSize: 100, WriteBatchWait: time.Millisecond})
	ctx := context.Background()
	run := startRun(t, st, "acme", 10)
	blocker, err := st.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback(ctx) }()
	_, err = blocker.Exec(ctx, `LOCK TABLE sync_runs IN SHARE MODE`) // lets rows be locked, not counters updated
	require.NoError(t, err)

	var returned atomic.Int64
	errs := make(chan error, 10)
	for i := 1; i <= 10; i++ {
		go func() { errs <- st.SaveCampaign(ctx, savedOf(run, i)); returned.Add(1) }()
	}
	testenv.WaitFor(t, 10*time.Second, "a batch to wait for the lock on sync_runs", func() bool {
		var waiting int
		require.NoError(t, st.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE NOT granted AND relation = 'sync_runs'::regclass`).Scan(&waiting))
		return waiting > 0
	})
	require.Zero(t, returned.Load(), "no save returned while its transaction is open")
	var visible int
	require.NoError(t, st.pool.QueryRow(ctx, `SELECT count(*) FROM campaigns`).Scan(&visible))
	require.Zero(t, visible)

	require.NoError(t, blocker.Rollback(ctx))
	for range 10 {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 10, mustRun(t, st, run.ID).CampaignsSaved)
}

// Close writes the saves still waiting for their batch to fill, and answers
// them; a save after Close fails without writing.
func TestCloseFlushesPendingSaves(t *testing.T) {
	url := testenv.DatabaseURL(t)
	t.Parallel()
	ctx := context.Background()
	require.NoError(t, Migrate(ctx, url))
	st, err := OpenWith(ctx, url, Options{WriteBatchSize: 1000, WriteBatchWait: time.Hour})
	require.NoError(t, err)
	run := startRun(t, st, "acme", 21)

	var returned atomic.Int64
	var started sync.WaitGroup
	errs := make(chan error, 20)
	for i := 1; i <= 20; i++ {
		started.Add(1)
		go func() { started.Done(); errs <- st.SaveCampaign(ctx, savedOf(run, i)); returned.Add(1) }()
	}
	started.Wait()
	require.Never(t, func() bool { return returned.Load() > 0 }, 200*time.Millisecond, 10*time.Millisecond,
		"the batch waits to fill")
	st.Close()
	for range 20 {
		require.NoError(t, <-errs)
	}
	require.True(t, errors.Is(st.SaveCampaign(ctx, savedOf(run, 21)), batcher.ErrClosed))

	reopened, err := Open(ctx, url)
	require.NoError(t, err)
	defer reopened.Close()
	got := mustRun(t, reopened, run.ID)
	require.Equal(t, 20, got.CampaignsSaved)
	rows, err := reopened.Campaigns(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, rows, 20)
}

// Saves keep finding their ledger rows by index after the ledger has grown:
// a plan cached while it was nearly empty would scan all of it for every
// batch. The first saves run on a small ledger, then it grows to 4,000
// rows and 100 more saves follow: PostgreSQL's statistics must show fewer
// rows read by sequential scans than four scans of the grown ledger (one
// per save would be 400,000; the bound leaves room for scans of the small
// ledger reported late).
func TestSavesDoNotScanTheLedger(t *testing.T) {
	st := setupWith(t, Options{WriteBatchSize: 1})
	ctx := context.Background()
	small := startRun(t, st, "small", 40)
	for i := 1; i <= 40; i++ {
		require.NoError(t, st.SaveCampaign(ctx, savedOf(small, i)))
	}
	big := startRun(t, st, "big", 4000)
	readBefore, scansBefore := ledgerReads(t, st)
	for i := 1; i <= 100; i++ {
		require.NoError(t, st.SaveCampaign(ctx, savedOf(big, i)))
	}
	// Each connection reports its statistics within seconds of going idle.
	var read int64
	testenv.WaitFor(t, 30*time.Second, "the saves' index scans in the statistics", func() bool {
		var scans int64
		read, scans = ledgerReads(t, st)
		return scans-scansBefore >= 100
	})
	require.Less(t, read-readBefore, int64(4*4000), "rows of sync_run_items read by sequential scans")
}

// ledgerReads returns the rows of sync_run_items read by sequential scans
// and the index scans of it so far, as PostgreSQL's statistics have them.
func ledgerReads(t *testing.T, st *Store) (seqRead, idxScans int64) {
	t.Helper()
	require.NoError(t, st.pool.QueryRow(context.Background(),
		`SELECT coalesce(seq_tup_read, 0), coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'sync_run_items'`).
		Scan(&seqRead, &idxScans))
	return seqRead, idxScans
}
