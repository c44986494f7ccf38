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

	itemSaved = "saved"
	itemDead  = "dead"
)

// pageCounts are what a fetched page said: the account's total and how
// many records it held.
type pageCounts struct{ total, campaigns int }

// endPage moves one page of a listing pass to its final state (done or
// failed); a page already in that state changes nothing, and a failed page
// that succeeds on replay has its dead letters resolved. counts is nil for
// a failed page. The caller holds the run's row lock and settles the run.
func endPage(ctx context.Context, tx pgx.Tx, runID int64, pass, page int, next string, counts *pageCounts) error {
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
		prev = pagePending
	case err != nil:
		return err
	}
	if prev == next {
		return nil
	}
	var total, campaigns *int
	if counts != nil {
		total, campaigns = &counts.total, &counts.campaigns
	}
	if _, err := tx.Exec(ctx, `UPDATE sync_run_pages SET status = $4, campaigns = coalesce($5, campaigns),
		total = coalesce($6, total) WHERE run_id = $1 AND pass = $2 AND page = $3`,
		runID, pass, page, next, campaigns, total); err != nil {
		return err
	}
	if prev != pageFailed || next != pageDone {
		return nil
	}
	_, err = tx.Exec(ctx, `UPDATE dead_letters SET resolved_at = now(), updated_at = now()
		WHERE run_id = $1 AND page = $2 AND item_key IS NULL AND resolved_at IS NULL`, runID, page)
	return err
}

// endItems moves the items named by runIDs[i], keys[i] to next (saved or
// dead) in one statement: an item already in that state, or not in the
// ledger, changes nothing; a dead item saved on replay has its dead letter
// resolved. The caller holds the row locks of every run named, so no other
// transaction moves these items between the read of their state and the
// update, and settles the runs.
//
// The statement is planned for each call (QueryExecModeCacheDescribe: an
// unnamed statement), not cached as a generic plan: one made while the
// ledger was nearly empty joins it by a sequential scan, and a connection
// kept it for every batch after the ledger had grown, reading 5.4 million
// rows in a 5,000-campaign sync.
func endItems(ctx context.Context, tx pgx.Tx, next string, runIDs []int64, keys []string) error {
	_, err := tx.Exec(ctx, `
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
		)
		UPDATE dead_letters d SET resolved_at = now(), updated_at = now() FROM moved m
		WHERE $3::text = 'saved' AND m.prev = 'dead' AND d.resolved_at IS NULL
		  AND d.run_id = m.run_id AND d.item_key = m.item_key`, pgx.QueryExecModeCacheDescribe, runIDs, keys, next)
	return err
}

// inLedgerTx runs fn in a transaction that changes pages or items of the
// ledger, and settles the runs fn returns before it commits: the one place
// where such a change (a page recorded, items saved or dead-lettered, a
// replay) ends. fn holds the row locks of those runs.
func (s *Store) inLedgerTx(ctx context.Context, fn func(pgx.Tx) ([]int64, error)) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		runIDs, err := fn(tx)
		if err != nil || len(runIDs) == 0 {
			return err
		}
		return settle(ctx, tx, runIDs)
	})
}

// settle gives each of the given runs that has nothing pending, and whose
// listing has ended unless a page failed, its final status: failed when a
// page failed for good, incomplete when the listing ended short, then
// done_with_failures or done. A cancelled run stays cancelled. A later
// change (a dead-lettered page or record replayed from asynqmon) settles
// the run again. A run that settles from running with its listing complete
// and clean marks the client's removals. "Nothing pending" is read from
// the run's counts, which the database keeps equal to its page and item
// rows (migration 000003).
func settle(ctx context.Context, tx pgx.Tx, runIDs []int64) error {
	rows, err := tx.Query(ctx, `
		UPDATE sync_runs r SET
			status = CASE
				WHEN r.pages_failed > 0 THEN 'failed'
				WHEN r.listing = 'incomplete' THEN 'incomplete'
				WHEN r.campaigns_dead > 0 THEN 'done_with_failures'
				ELSE 'done' END,
			finished_at = CASE WHEN r.status = 'running' THEN now() ELSE r.finished_at END,
			reason = CASE
				WHEN r.pages_failed > 0 THEN r.reason
				WHEN r.listing = 'incomplete' THEN r.listing_problem END
		FROM (SELECT id, status FROM sync_runs WHERE id = ANY($1)) AS prev
		WHERE r.id = prev.id AND r.id = ANY($1)
		  AND r.status <> 'cancelled' -- a removed client's run stays cancelled
		  AND r.pages_done + r.pages_failed = r.pages_planned -- no page pending
		  AND r.campaigns_saved + r.campaigns_dead = r.campaigns_seen -- no item pending
		  AND (r.pages_failed > 0 OR r.listing <> 'open')
		RETURNING r.id, r.client_id, r.list_pass,
			prev.status = 'running' AND r.status IN ('done', 'done_with_failures') AND r.listing = 'complete'`, runIDs)
	if err != nil {
		return err
	}
	type clean struct {
		runID    int64
		clientID string
		pass     int
	}
	var marking []clean
	var c clean
	var marks bool
	if _, err := pgx.ForEachRow(rows, []any{&c.runID, &c.clientID, &c.pass, &marks}, func() error {
		if marks {
			marking = append(marking, c)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, c := range marking {
		if err := markRemovals(ctx, tx, c.runID, c.clientID, c.pass); err != nil {
			return err
		}
	}
	return nil
}
