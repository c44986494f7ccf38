package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeadLetter is a task that failed for good, with the reason. ItemKey is set
// for a record, Page for a page.
type DeadLetter struct {
	TaskID   string
	TaskType string
	RunID    int64
	ClientID string
	ItemKey  string
	Page     int
	Reason   string
	Payload  []byte
}

// StoredDeadLetter is a dead_letters row as read back.
type StoredDeadLetter struct {
	DeadLetter
	Failures   int
	CreatedAt  time.Time
	ResolvedAt *time.Time
}

// RecordDeadLetter keeps the dead-lettered task and ends its item (or page)
// as failed, in one transaction. A task dead-lettered again after a replay
// from asynqmon updates its row and counts one more failure.
func (s *Store) RecordDeadLetter(ctx context.Context, d DeadLetter) error {
	err := s.inLedgerTx(ctx, func(tx pgx.Tx) ([]int64, error) {
		run, err := lockRun(ctx, tx, d.RunID)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO dead_letters (task_id, task_type, run_id, client_id, item_key, page, reason, payload)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, 0), $7, $8)
			ON CONFLICT (task_id) DO UPDATE SET reason = EXCLUDED.reason, payload = EXCLUDED.payload,
				failures = dead_letters.failures + 1, updated_at = now(), resolved_at = NULL`,
			d.TaskID, d.TaskType, d.RunID, d.ClientID, d.ItemKey, d.Page, d.Reason, d.Payload); err != nil {
			return nil, err
		}
		if d.ItemKey != "" {
			return []int64{d.RunID}, endItems(ctx, tx, itemDead, []int64{d.RunID}, []string{d.ItemKey})
		}
		if err := endPage(ctx, tx, d.RunID, run.ListPass, d.Page, pageFailed, nil); err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `UPDATE sync_runs SET reason = $2 WHERE id = $1`,
			d.RunID, fmt.Sprintf("page %d: %s", d.Page, d.Reason))
		return []int64{d.RunID}, err
	})
	if err != nil {
		return fmt.Errorf("store: record dead letter %s: %w", d.TaskID, sanitize(err))
	}
	return nil
}

// DeadLetters returns the dead letters of a run, oldest first.
func (s *Store) DeadLetters(ctx context.Context, runID int64) ([]StoredDeadLetter, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, task_type, coalesce(run_id, 0), client_id, coalesce(item_key, ''),
		coalesce(page, 0), reason, payload, failures, created_at, resolved_at
		FROM dead_letters WHERE run_id = $1 ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("store: dead letters of run %d: %w", runID, sanitize(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredDeadLetter, error) {
		var d StoredDeadLetter
		err := r.Scan(&d.TaskID, &d.TaskType, &d.RunID, &d.ClientID, &d.ItemKey, &d.Page, &d.Reason,
			&d.Payload, &d.Failures, &d.CreatedAt, &d.ResolvedAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: dead letters of run %d: %w", runID, sanitize(err))
	}
	return out, nil
}
