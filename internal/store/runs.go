package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Run statuses, as stored in sync_runs.status.
const (
	StatusRunning          = "running"
	StatusDone             = "done"
	StatusDoneWithFailures = "done_with_failures"
	// StatusIncomplete is a run whose listing ended short: on a page that
	// contradicts it (empty with has_more, a page repeated), or still moving
	// after the reconcile passes allowed. Reason says which page and what.
	StatusIncomplete = "incomplete"
	// StatusCancelled is the status of a run whose client was removed from
	// the configuration while it ran.
	StatusCancelled = "cancelled"
	StatusFailed    = "failed"
)

// Run is one row of the sync_runs ledger.
type Run struct {
	ID             int64
	ClientID       string
	Status         string
	PagesPlanned   int
	PagesDone      int
	PagesFailed    int
	CampaignsSeen  int
	CampaignsSaved int
	CampaignsDead  int
	// CampaignsRemoved is how many of the client's campaigns the run marked
	// removed: its listing ended complete and clean without them.
	CampaignsRemoved int
	// ListPass is the run's listing pass: 0 for the first listing, 1.. for
	// reconcile passes made because the listing moved under the run.
	ListPass int
	// ListingProblem is what ended the listing short, if anything did.
	ListingProblem string
	Reason         string
	StartedAt      time.Time
	FinishedAt     *time.Time
}

// Finished reports whether the run has reached a final status.
func (r Run) Finished() bool { return r.Status != StatusRunning }

// RunInProgressError is returned by CreateRun when the client already has a
// running run; a client is never synced twice at once.
type RunInProgressError struct {
	ClientID string
	RunID    int64
}

func (e *RunInProgressError) Error() string {
	return fmt.Sprintf("client %s already has run %d in progress", e.ClientID, e.RunID)
}

const runColumns = `id, client_id, status, pages_planned, pages_done, pages_failed,
	campaigns_seen, campaigns_saved, campaigns_dead, campaigns_removed, list_pass, coalesce(listing_problem, ''),
	coalesce(reason, ''), started_at, finished_at`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.ClientID, &r.Status, &r.PagesPlanned, &r.PagesDone, &r.PagesFailed,
		&r.CampaignsSeen, &r.CampaignsSaved, &r.CampaignsDead, &r.CampaignsRemoved, &r.ListPass, &r.ListingProblem,
		&r.Reason, &r.StartedAt, &r.FinishedAt)
	return r, err
}

// CreateRun records a new running run for clientID with its first page
// planned. It returns *RunInProgressError when the client has one already.
func (s *Store) CreateRun(ctx context.Context, clientID string) (Run, error) {
	var run Run
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO sync_runs (client_id) VALUES ($1) RETURNING id`, clientID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync_run_pages (run_id, page) VALUES ($1, 1)`, id); err != nil {
			return err
		}
		var err error
		run, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE id = $1`, id))
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
		existing, gerr := s.runningRun(ctx, clientID)
		if gerr != nil {
			return Run{}, gerr
		}
		return Run{}, &RunInProgressError{ClientID: clientID, RunID: existing}
	}
	if err != nil {
		return Run{}, fmt.Errorf("store: create run for client %s: %w", clientID, sanitize(err))
	}
	return run, nil
}

func (s *Store) runningRun(ctx context.Context, clientID string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM sync_runs WHERE client_id = $1 AND status = 'running'`, clientID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: find running run of client %s: %w", clientID, sanitize(err))
	}
	return id, nil
}

// ErrRunNotFound is returned for a run id that the ledger does not hold.
var ErrRunNotFound = errors.New("run not found")

// Run returns one run.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("store: run %d: %w", id, ErrRunNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("store: run %d: %w", id, sanitize(err))
	}
	return r, nil
}

// Runs returns the given runs, in id order; ids not found are left out.
func (s *Store) Runs(ctx context.Context, ids []int64) ([]Run, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE id = ANY($1) ORDER BY id`, ids)
}

// RecentRuns returns the newest runs first, at most limit of them.
func (s *Store) RecentRuns(ctx context.Context, limit int) ([]Run, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM sync_runs ORDER BY id DESC LIMIT $1`, limit)
}

// RunningRuns returns every run that has not ended, oldest first.
func (s *Store) RunningRuns(ctx context.Context) ([]Run, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE status = 'running' ORDER BY id`)
}

func (s *Store) queryRuns(ctx context.Context, sql string, args ...any) ([]Run, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", sanitize(err))
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Run, error) { return scanRun(row) })
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", sanitize(err))
	}
	return runs, nil
}

// lockRun takes the run's row lock for the rest of the transaction, so
// the planning decisions and the counts of one run are serialised.
func lockRun(ctx context.Context, tx pgx.Tx, runID int64) (Run, error) {
	r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE id = $1 FOR UPDATE`, runID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", runID, ErrRunNotFound)
	}
	return r, err
}

// FailRun ends a running run as failed with the reason.
func (s *Store) FailRun(ctx context.Context, runID int64, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE sync_runs SET status = 'failed', reason = $2, finished_at = now()
		WHERE id = $1 AND status = 'running'`, runID, reason)
	if err != nil {
		return fmt.Errorf("store: fail run %d: %w", runID, sanitize(err))
	}
	return nil
}
