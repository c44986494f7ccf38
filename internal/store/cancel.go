package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CancelClientRuns ends the client's running run, if any, as cancelled with
// the reason, and returns the ids it ended. Every worker that notices the
// removal calls it; the first one ends the run and the others find nothing
// to do. Nothing is deleted: the run's pages, items, dead letters and the
// client's campaigns stay.
func (s *Store) CancelClientRuns(ctx context.Context, clientID, reason string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `UPDATE sync_runs SET status = 'cancelled', reason = $2, finished_at = now()
		WHERE client_id = $1 AND status = 'running' RETURNING id`, clientID, reason)
	if err != nil {
		return nil, fmt.Errorf("store: cancel runs of client %s: %w", clientID, sanitize(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: cancel runs of client %s: %w", clientID, sanitize(err))
	}
	return ids, nil
}

// RunAge is a run's status and how long ago it started, on the database's
// clock, so that every worker measures it alike.
type RunAge struct {
	Status string
	Age    time.Duration
}

// Finished reports whether the run has reached a final status.
func (a RunAge) Finished() bool { return a.Status != StatusRunning }

// RunAgeOf returns the run's status and age; ErrRunNotFound when the ledger
// does not hold it.
func (s *Store) RunAgeOf(ctx context.Context, runID int64) (RunAge, error) {
	var a RunAge
	var secs float64
	err := s.pool.QueryRow(ctx, runAgeSQL, runID).Scan(&a.Status, &secs)
	if errors.Is(err, pgx.ErrNoRows) {
		return RunAge{}, fmt.Errorf("store: run %d: %w", runID, ErrRunNotFound)
	}
	if err != nil {
		return RunAge{}, fmt.Errorf("store: run %d: %w", runID, sanitize(err))
	}
	a.Age = time.Duration(secs * float64(time.Second))
	return a, nil
}

// LatestRun is a client's newest run, for `enqueuer clients`.
type LatestRun struct {
	ClientID string
	Run      *Run // nil: the client was never synced
}

// LatestRuns returns the newest run of each client named, in the order
// given; a client never synced has a nil Run.
func (s *Store) LatestRuns(ctx context.Context, clientIDs []string) ([]LatestRun, error) {
	runs, err := s.queryRuns(ctx, `SELECT DISTINCT ON (client_id) `+runColumns+`
		FROM sync_runs WHERE client_id = ANY($1) ORDER BY client_id, id DESC`, clientIDs)
	if err != nil {
		return nil, err
	}
	byClient := make(map[string]Run, len(runs))
	for _, r := range runs {
		byClient[r.ClientID] = r
	}
	out := make([]LatestRun, len(clientIDs))
	for i, id := range clientIDs {
		out[i].ClientID = id
		if r, ok := byClient[id]; ok {
			out[i].Run = &r
		}
	}
	return out, nil
}
