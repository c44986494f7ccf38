package store

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// Item is one record of a fetched page, named by its key: the campaign id,
// or a position for a record without a usable id.
type Item struct {
	Key    string
	Record []byte
}

// FetchedPage is what a worker learned from one page request.
type FetchedPage struct {
	RunID int64
	Page  int
	Items []Item
	// PlanThrough is the last page the run now needs: from the first page's
	// total, or page+1 when has_more shows a page that was not planned.
	PlanThrough int
}

// PageResult says what the caller must enqueue after RecordPage committed.
type PageResult struct {
	// RunEnded is true when the run had already ended: nothing to enqueue.
	RunEnded bool
	// PendingItems are this page's items not yet saved or dead-lettered.
	PendingItems []Item
	// PendingPages are pages this page planned that are not done yet.
	PendingPages []int
}

// RecordPage marks a page done, plans the pages it revealed and records its
// items, in one transaction. Calling it again for the same page changes
// nothing and returns what is still pending, so a retried task re-enqueues
// exactly what a crash may have left out.
func (s *Store) RecordPage(ctx context.Context, p FetchedPage) (PageResult, error) {
	var res PageResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		run, err := lockRun(ctx, tx, p.RunID)
		if err != nil {
			return err
		}
		if run.Finished() && run.PagesFailed == 0 {
			res.RunEnded = true
			return nil
		}
		planned, err := planPages(ctx, tx, p.RunID, p.Page, p.PlanThrough)
		if err != nil {
			return err
		}
		seen, err := insertItems(ctx, tx, p)
		if err != nil {
			return err
		}
		if err := endPage(ctx, tx, p.RunID, p.Page, pageDone, len(p.Items), planned, seen); err != nil {
			return err
		}
		if res.PendingPages, err = pendingPages(ctx, tx, p.RunID, p.Page, p.PlanThrough); err != nil {
			return err
		}
		if res.PendingItems, err = pendingItems(ctx, tx, p.RunID, p.Page); err != nil {
			return err
		}
		return settle(ctx, tx, p.RunID)
	})
	if err != nil {
		return PageResult{}, fmt.Errorf("store: record page %d of run %d: %w", p.Page, p.RunID, sanitize(err))
	}
	return res, nil
}

// RecordedPage tells whether the page is already recorded as done and, if
// so, what is still pending after it: its items not yet ended, and the run's
// pages after it not yet fetched. A page task can run again after its page
// was recorded (asynq delivers at least once, and a later page's has_more
// can re-plan a page that was done meanwhile); its caller re-enqueues the
// leftovers without spending a rate-limited request on the page again.
func (s *Store) RecordedPage(ctx context.Context, runID int64, page int) (PageResult, bool, error) {
	var (
		res  PageResult
		done bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM sync_run_pages WHERE run_id = $1 AND page = $2`,
			runID, page).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && status != pageDone) {
			return nil
		}
		if err != nil {
			return err
		}
		done = true
		if res.PendingPages, err = pendingPages(ctx, tx, runID, page, math.MaxInt32); err != nil {
			return err
		}
		res.PendingItems, err = pendingItems(ctx, tx, runID, page)
		return err
	})
	if err != nil {
		return PageResult{}, false, fmt.Errorf("store: read page %d of run %d: %w", page, runID, sanitize(err))
	}
	return res, done, nil
}

// planPages adds pages page+1..through to the run's plan; it returns how
// many were new.
func planPages(ctx context.Context, tx pgx.Tx, runID int64, page, through int) (int, error) {
	if through <= page {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `INSERT INTO sync_run_pages (run_id, page)
		SELECT $1, g FROM generate_series($2::int, $3::int) g
		ON CONFLICT DO NOTHING`, runID, page+1, through)
	return int(tag.RowsAffected()), err
}

func insertItems(ctx context.Context, tx pgx.Tx, p FetchedPage) (int, error) {
	if len(p.Items) == 0 {
		return 0, nil
	}
	keys := make([]string, len(p.Items))
	records := make([][]byte, len(p.Items))
	for i, it := range p.Items {
		keys[i], records[i] = it.Key, it.Record
	}
	tag, err := tx.Exec(ctx, `INSERT INTO sync_run_items (run_id, item_key, page, record)
		SELECT $1, k, $2, r FROM unnest($3::text[], $4::bytea[]) AS u(k, r)
		ON CONFLICT DO NOTHING`, p.RunID, p.Page, keys, records)
	return int(tag.RowsAffected()), err
}

func pendingPages(ctx context.Context, tx pgx.Tx, runID int64, page, through int) ([]int, error) {
	if through <= page {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT page FROM sync_run_pages
		WHERE run_id = $1 AND page > $2 AND page <= $3 AND status = 'pending' ORDER BY page`, runID, page, through)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

func pendingItems(ctx context.Context, tx pgx.Tx, runID int64, page int) ([]Item, error) {
	rows, err := tx.Query(ctx, `SELECT item_key, record FROM sync_run_items
		WHERE run_id = $1 AND page = $2 AND status = 'pending' ORDER BY item_key`, runID, page)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.Key, &it.Record)
		return it, err
	})
}
