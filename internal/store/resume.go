package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Unfinished is what a running run still needs: its pending pages (of its
// current listing pass, Run.ListPass; earlier passes have ended) and
// pending items. After Redis lost its queues, re-enqueueing exactly these
// finishes the run.
type Unfinished struct {
	Run   Run
	Pages []int
	Items []PendingItem
}

// PendingItem is an item not yet saved or dead-lettered.
type PendingItem struct {
	Page int
	Item
}

// UnfinishedWork returns the pending pages and items of a running run.
func (s *Store) UnfinishedWork(ctx context.Context, runID int64) (Unfinished, error) {
	var u Unfinished
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u.Run, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE id = $1`, runID)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT page FROM sync_run_pages WHERE run_id = $1 AND pass = $2 AND status = 'pending' ORDER BY page`,
			runID, u.Run.ListPass)
		if err != nil {
			return err
		}
		if u.Pages, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT page, item_key, record FROM sync_run_items
			WHERE run_id = $1 AND status = 'pending' ORDER BY page, item_key`, runID)
		if err != nil {
			return err
		}
		u.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingItem, error) {
			var it PendingItem
			err := r.Scan(&it.Page, &it.Key, &it.Record)
			return it, err
		})
		return err
	})
	if err != nil {
		return Unfinished{}, fmt.Errorf("store: unfinished work of run %d: %w", runID, sanitize(err))
	}
	return u, nil
}
