package store

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The reads a task makes before its request: a save task's run status and
// age, a page task's run status and page status. A run's first request
// waits for the latter, so every new connection makes both once.
const (
	runAgeSQL = `SELECT status, extract(epoch FROM now() - started_at)::float8
		FROM sync_runs WHERE id = $1`
	pageStatusSQL = `SELECT r.status, r.list_pass, coalesce(p.status, '') FROM sync_runs r
		LEFT JOIN sync_run_pages p ON p.run_id = r.id AND p.pass = r.list_pass AND p.page = $2
		WHERE r.id = $1`
)

// warmIdleConns is how many connections the pool keeps open and idle
// unless DATABASE_URL sets pool_min_conns or pool_min_idle_conns: a
// worker idle for longer than pgxpool keeps a connection (an hour at
// most) would otherwise meet a run's first page task with none.
const warmIdleConns = 2

// keepWarm makes the pool keep warmIdleConns idle connections, each of
// which has made the page task's first reads once. The first statement of
// a kind on a new PostgreSQL connection loads the tables' catalog entries
// and plans it, 5 to 15 ms on the reference machine, which a run's first
// page task would otherwise pay before its request leaves.
func keepWarm(cfg *pgxpool.Config, databaseURL string) {
	if !strings.Contains(databaseURL, "pool_min_") {
		cfg.MinIdleConns = warmIdleConns
	}
	after := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if after != nil {
			if err := after(ctx, c); err != nil {
				return err
			}
		}
		warm(ctx, c)
		return nil
	}
}

// warm makes the reads for run 0, which no run has (ids start at 1). Their
// errors are ignored: a database not migrated yet, say, leaves the
// connection as it was, and the task that meets the problem reports it.
func warm(ctx context.Context, c *pgx.Conn) {
	_, _ = c.Exec(ctx, runAgeSQL, 0)
	_, _ = c.Exec(ctx, pageStatusSQL, 0, 1)
}
