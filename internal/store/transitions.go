package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Page and item states, as stored in sync_run_pages and sync_run_items.
const (
	pagePending = "pending"
	pageDone    = "done"
	pageFailed  = "failed"

	itemPending = "pending"
	itemSaved   = "saved"
	itemDead    = "dead"
)

// endPage moves one page to its final state (done or failed) and moves the
// run's counters by exactly the change: a page already in that state changes
// nothing, and a failed page that succeeds on replay stops counting as
// failed. planned and seen are the pages and items this call added. The
// caller holds the run's row lock.
func endPage(ctx context.Context, tx pgx.Tx, runID int64, page int, next string, campaigns, planned, seen int) error {
	var prev string
	err := tx.QueryRow(ctx, `SELECT status FROM sync_run_pages WHERE run_id = $1 AND page = $2`, runID, page).Scan(&prev)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Enqueued by hand (asynqmon) for a page the plan never had.
		if _, err := tx.Exec(ctx, `INSERT INTO sync_run_pages (run_id, page) VALUES ($1, $2)`, runID, page); err != nil {
			return err
		}
		prev, planned = pagePending, planned+1
	case err != nil:
		return err
	}
	done, failed := delta(prev, next, pageDone), delta(prev, next, pageFailed)
	if prev != next {
		if _, err := tx.Exec(ctx, `UPDATE sync_run_pages SET status = $3, campaigns = coalesce($4, campaigns)
			WHERE run_id = $1 AND page = $2`, runID, page, next, nullIfFailed(next, campaigns)); err != nil {
			return err
		}
	}
	if prev == pageFailed && next == pageDone {
		if err := resolveDeadLetters(ctx, tx, runID, &page, nil); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE sync_runs SET pages_planned = pages_planned + $2,
		pages_done = pages_done + $3, pages_failed = pages_failed + $4, campaigns_seen = campaigns_seen + $5
		WHERE id = $1`, runID, planned, done, failed, seen)
	return err
}

// endItem moves one item to its final state (saved or dead), with the same
// rules as endPage. It reports whether the item exists in the run.
func endItem(ctx context.Context, tx pgx.Tx, runID int64, key, next string) (bool, error) {
	var prev string
	err := tx.QueryRow(ctx, `SELECT status FROM sync_run_items WHERE run_id = $1 AND item_key = $2`, runID, key).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil || prev == next {
		return err == nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE sync_run_items SET status = $3 WHERE run_id = $1 AND item_key = $2`, runID, key, next); err != nil {
		return false, err
	}
	if prev == itemDead && next == itemSaved {
		if err := resolveDeadLetters(ctx, tx, runID, nil, &key); err != nil {
			return false, err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE sync_runs SET campaigns_saved = campaigns_saved + $2,
		campaigns_dead = campaigns_dead + $3 WHERE id = $1`,
		runID, delta(prev, next, itemSaved), delta(prev, next, itemDead))
	return true, err
}

// delta is how a counter of state `of` moves when a row goes prev → next.
func delta(prev, next, of string) int {
	d := 0
	if next == of {
		d++
	}
	if prev == of {
		d--
	}
	return d
}

func nullIfFailed(next string, campaigns int) *int {
	if next == pageFailed {
		return nil
	}
	return &campaigns
}

func resolveDeadLetters(ctx context.Context, tx pgx.Tx, runID int64, page *int, key *string) error {
	_, err := tx.Exec(ctx, `UPDATE dead_letters SET resolved_at = now(), updated_at = now()
		WHERE run_id = $1 AND resolved_at IS NULL
		  AND (($2::int IS NOT NULL AND page = $2 AND item_key IS NULL) OR ($3::text IS NOT NULL AND item_key = $3))`,
		runID, page, key)
	return err
}
