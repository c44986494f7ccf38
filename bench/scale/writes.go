package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adsync/adsync/bench/benchkit"
)

// campaignWrites is what PostgreSQL says of a pass's campaigns table once
// every worker of the pass has exited: how many rows it holds and how many
// times rows were written. A campaign saved twice (a task run again after
// its save committed) is one row written twice, so a pass saved every
// campaign once when rows = campaigns and saves = rows.
type campaignWrites struct {
	// rows is the campaigns table's row count.
	rows int64
	// writes is PostgreSQL's count of rows inserted and updated in the
	// table (pg_stat_user_tables.n_tup_ins + n_tup_upd), over the life of
	// the pass's database: the bench recreates it for each pass.
	writes int64
	// removals is the rows a run's listing marked removed: one update
	// each that is not a save (a fresh database holds no earlier mark for
	// a run to clear).
	removals int64
	// rollbacks is the database's rolled-back transactions. PostgreSQL
	// counts the rows a rolled-back transaction wrote in writes too, so
	// with rollbacks above zero, saves above rows may be theirs.
	rollbacks int64
}

// saves is the campaign row writes that were saves.
func (c campaignWrites) saves() int64 { return c.writes - c.removals }

// savedOnce reports whether the table holds want campaigns and each was
// written by one save.
func (c campaignWrites) savedOnce(want int) bool {
	return c.rows == int64(want) && c.saves() == c.rows
}

// String is the figures as the report prints them.
func (c campaignWrites) String() string {
	return fmt.Sprintf("%d rows, %d saves, %d rollbacks", c.rows, c.saves(), c.rollbacks)
}

// passDatabase is the DATABASE_URL the pass's workers ran with: the
// database the bench created for that pass.
func passDatabase(procs []benchkit.Watched) (string, error) {
	url := ""
	for _, p := range procs {
		switch {
		case p.DatabaseURL == "":
			return "", fmt.Errorf("worker %d has no DATABASE_URL in its environment to check the saves in", p.PID)
		case url != "" && p.DatabaseURL != url:
			return "", errors.New("the pass's workers used different databases")
		}
		url = p.DatabaseURL
	}
	if url == "" {
		return "", errors.New("no worker process to read DATABASE_URL from")
	}
	return url, nil
}

// countCampaignWrites reads campaignWrites from the database at url, whose
// writers have all disconnected or are about to. A backend flushes its
// table statistics as it exits, before it leaves pg_stat_activity, so the
// figures are read once no other client is connected (within wait).
func countCampaignWrites(ctx context.Context, url string, wait time.Duration) (campaignWrites, error) {
	var c campaignWrites
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return c, fmt.Errorf("connect to the pass's database to count its saves: %w", err)
	}
	defer conn.Close(context.Background())

	var tracked bool
	if err := conn.QueryRow(ctx, `SELECT current_setting('track_counts')::bool`).Scan(&tracked); err != nil {
		return c, fmt.Errorf("read track_counts: %w", err)
	}
	if !tracked {
		return c, errors.New("PostgreSQL's track_counts is off: it counts no row writes")
	}
	deadline := time.Now().Add(wait)
	for {
		var others int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&others); err != nil {
			return c, fmt.Errorf("list the database's other connections: %w", err)
		}
		if others == 0 {
			break
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("%d connection(s) to the pass's database still open after %s: its writers have not all exited", others, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Each statement is its own transaction, so each reads the statistics
	// as they are now, not a snapshot cached by an earlier one.
	if err := conn.QueryRow(ctx, `SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relid = 'campaigns'::regclass`).Scan(&c.writes); err != nil {
		return c, fmt.Errorf("read the campaigns table's write count: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.rollbacks); err != nil {
		return c, fmt.Errorf("read the database's rollback count: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE removed_at IS NOT NULL) FROM campaigns`).Scan(&c.rows, &c.removals); err != nil {
		return c, fmt.Errorf("count the campaigns rows: %w", err)
	}
	return c, nil
}
