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

// pageCounts are what a fetched page said: the account's total and how
// many records it held.
type pageCounts struct{ total, campaigns int }

// endPage moves one page of a listing pass to its final state (done or
// failed) and moves the run's counters by exactly the change: a page
// already in that state changes nothing, and a failed page that succeeds on
// replay stops counting as failed. counts is nil for a failed page; planned
// and seen are the pages and items this call added. The caller holds the
// run's row lock.
func endPage(ctx context.Context, tx pgx.Tx, runID int64, pass, page int, next string, counts *pageCounts, planned, seen int) error {
	var prev string
	err := tx.QueryRow(ctx, `SELECT status FROM sync_run_pages WHERE run_id = $1 AND pass = $2 AND page = $3`,
		runID, pass, page).Scan(&prev)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Enqueued by hand (asynqmon) for a page the plan never had.
		if _, err := tx.Exec(ctx, `INSERT INTO sync_run_pages (run_id, pass, page) VALUES ($1, $2, $3)`,
			runID, pass, page); err != nil {
			return err
		}
		prev, planned = pagePending, planned+1
	case err != nil:
		return err
	}
	done, failed := delta(prev, next, pageDone), delta(prev, next, pageFailed)
	if prev != next {
		var total, campaigns *int
		if counts != nil {
			total, campaigns = &counts.total, &counts.campaigns
		}
		if _, err := tx.Exec(ctx, `UPDATE sync_run_pages SET status = $4, campaigns = coalesce($5, campaigns),
			total = coalesce($6, total) WHERE run_id = $1 AND pass = $2 AND page = $3`,
			runID, pass, page, next, campaigns, total); err != nil {
			return err
		}
	}
	if prev == pageFailed && next == pageDone {
		if err := resolvePageDeadLetters(ctx, tx, runID, page); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE sync_runs SET pages_planned = pages_planned + $2,
		pages_done = pages_done + $3, pages_failed = pages_failed + $4, campaigns_seen = campaigns_seen + $5
		WHERE id = $1`, runID, planned, done, failed, seen)
	return err
}

// endItem moves one item to its final state (saved or dead), with the same
// rules as endPage. The caller holds the run's row lock and settles the run.
func endItem(ctx context.Context, tx pgx.Tx, runID int64, key, next string) error {
	_, err := endItems(ctx, tx, next, []int64{runID}, []string{key})
	return err
}

// endItems moves the items named by runIDs[i], keys[i] to next (saved or
// dead) in one statement, with endPage's rules: an item already in that
// state, or not in the ledger, changes nothing; a dead item saved on replay
// stops counting as dead and its dead letter is resolved. Each run's
// counters move once, by the sum of its items' changes. The caller holds the
// row locks of every run named, so no other transaction moves these items
// between the read of their state and the update. It returns the runs whose
// pages and items have now all ended (settle's condition), for the caller
// to settle: settling only those spares a statement per run of a batch.
//
// The statement is planned for each call (QueryExecModeCacheDescribe: an
// unnamed statement), not cached as a generic plan: one made while the
// ledger was nearly empty joins it by a sequential scan, and a connection
// kept it for every batch after the ledger had grown, reading 5.4 million
// rows in a 5,000-campaign sync.
func endItems(ctx context.Context, tx pgx.Tx, next string, runIDs []int64, keys []string) ([]int64, error) {
	rows, err := tx.Query(ctx, `
		WITH prev AS (
			SELECT i.run_id, i.item_key, i.status
			FROM sync_run_items i
			JOIN (SELECT DISTINCT run_id, item_key FROM unnest($1::bigint[], $2::text[]) AS u(run_id, item_key)) AS w
				USING (run_id, item_key)
			WHERE i.status <> $3::text
		), moved AS (
			UPDATE sync_run_items i SET status = $3::text FROM prev
			WHERE i.run_id = prev.run_id AND i.item_key = prev.item_key
			RETURNING i.run_id, i.item_key, prev.status AS prev
		), resolved AS (
			UPDATE dead_letters d SET resolved_at = now(), updated_at = now() FROM moved m
			WHERE $3::text = 'saved' AND m.prev = 'dead' AND d.resolved_at IS NULL
			  AND d.run_id = m.run_id AND d.item_key = m.item_key
		), deltas AS (
			SELECT run_id,
				count(*) FILTER (WHERE $3::text = 'saved') - count(*) FILTER (WHERE prev = 'saved') AS saved,
				count(*) FILTER (WHERE $3::text = 'dead') - count(*) FILTER (WHERE prev = 'dead') AS dead
			FROM moved GROUP BY run_id
		)
		UPDATE sync_runs r SET campaigns_saved = r.campaigns_saved + d.saved, campaigns_dead = r.campaigns_dead + d.dead
		FROM deltas d WHERE r.id = d.run_id
		RETURNING r.id, r.pages_done + r.pages_failed >= r.pages_planned
			AND r.campaigns_saved + r.campaigns_dead >= r.campaigns_seen`, pgx.QueryExecModeCacheDescribe, runIDs, keys, next)
	if err != nil {
		return nil, err
	}
	var ended []int64
	var id int64
	var done bool
	_, err = pgx.ForEachRow(rows, []any{&id, &done}, func() error {
		if done {
			ended = append(ended, id)
		}
		return nil
	})
	return ended, err
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

// resolvePageDeadLetters marks the dead letters of a failed page resolved
// once the page succeeds on replay.
func resolvePageDeadLetters(ctx context.Context, tx pgx.Tx, runID int64, page int) error {
	_, err := tx.Exec(ctx, `UPDATE dead_letters SET resolved_at = now(), updated_at = now()
		WHERE run_id = $1 AND page = $2 AND item_key IS NULL AND resolved_at IS NULL`, runID, page)
	return err
}
