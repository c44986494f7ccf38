package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Listing states of a run, as stored in sync_runs.listing.
const (
	listingOpen       = "open"
	listingComplete   = "complete"
	listingIncomplete = "incomplete"
)

// insertListing records which ids the page showed in the pass: drift and
// removals are read from these rows.
func insertListing(ctx context.Context, tx pgx.Tx, pass int, p FetchedPage) error {
	if len(p.Items) == 0 {
		return nil
	}
	keys := make([]string, len(p.Items))
	for i, it := range p.Items {
		keys[i] = it.Key
	}
	_, err := tx.Exec(ctx, `INSERT INTO sync_run_listing (run_id, pass, page, item_key)
		SELECT $1, $2, $3, k FROM unnest($4::text[]) AS k ON CONFLICT DO NOTHING`, p.RunID, pass, p.Page, keys)
	return err
}

// pageProblem returns the contradiction the page shows, if any, and records
// it as what ended the run's listing (the first one recorded stays): an
// empty page that says has_more, or a page with exactly the ids of a
// neighbour (a platform that ignores page). Either would page on without
// end if has_more were trusted. Pages arrive in any order, so a page is
// compared with both neighbours already recorded.
func pageProblem(ctx context.Context, tx pgx.Tx, pass int, p FetchedPage) (string, error) {
	var problem string
	if len(p.Items) == 0 && p.HasMore {
		problem = fmt.Sprintf("page %d came back empty with has_more true", p.Page)
	} else if len(p.Items) > 0 {
		var earlier, later int
		err := tx.QueryRow(ctx, `WITH sets AS (
				SELECT page, array_agg(item_key ORDER BY item_key) AS ids FROM sync_run_listing
				WHERE run_id = $1 AND pass = $2 AND page BETWEEN $3 - 1 AND $3 + 1 GROUP BY page)
			SELECT a.page, b.page FROM sets a JOIN sets b ON b.page = a.page + 1 AND a.ids = b.ids
			ORDER BY a.page LIMIT 1`, p.RunID, pass, p.Page).Scan(&earlier, &later)
		switch {
		case err == nil:
			problem = fmt.Sprintf("page %d repeats the ids of page %d", later, earlier)
		case !errors.Is(err, pgx.ErrNoRows):
			return "", err
		}
	}
	if problem == "" {
		return "", nil
	}
	if pass > 0 {
		problem = fmt.Sprintf("reconcile pass %d: %s", pass, problem)
	}
	_, err := tx.Exec(ctx, `UPDATE sync_runs SET listing_problem = coalesce(listing_problem, $2) WHERE id = $1`,
		p.RunID, problem)
	return problem, err
}

// closePass ends the run's current listing pass once every page of it is
// in and none failed (a failed page fails the run instead; when it is
// replayed and comes through, the pass closes then). A pass that met a
// contradiction ends the listing incomplete. A pass that saw the listing
// move under it (see drift) is followed by another, a reconcile pass, up
// to reconcilePasses of them; its first page is planned here and the new
// pass is returned for the caller to enqueue it. A clean pass ends the
// listing complete, and its ids are the ones the run's removals are judged
// by. The caller holds the run's row lock.
func closePass(ctx context.Context, tx pgx.Tx, runID int64, reconcilePasses int) (int, error) {
	var (
		pass, pending, failed int
		listing, problem      string
	)
	err := tx.QueryRow(ctx, `SELECT r.list_pass, r.listing, coalesce(r.listing_problem, ''),
			count(*) FILTER (WHERE p.status = 'pending'), count(*) FILTER (WHERE p.status = 'failed')
		FROM sync_runs r JOIN sync_run_pages p ON p.run_id = r.id AND p.pass = r.list_pass
		WHERE r.id = $1 GROUP BY r.id`, runID).Scan(&pass, &listing, &problem, &pending, &failed)
	if err != nil {
		return 0, err
	}
	if listing != listingOpen || pending > 0 || failed > 0 {
		return pass, nil
	}
	if problem != "" {
		return pass, endListing(ctx, tx, runID, listingIncomplete, "")
	}
	moved, err := drift(ctx, tx, runID, pass)
	switch {
	case err != nil:
		return 0, err
	case moved == "":
		return pass, endListing(ctx, tx, runID, listingComplete, "")
	case pass < reconcilePasses:
		if _, err := tx.Exec(ctx, `UPDATE sync_runs SET list_pass = $2 WHERE id = $1`,
			runID, pass+1); err != nil {
			return 0, err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sync_run_pages (run_id, pass, page) VALUES ($1, $2, 1)`, runID, pass+1)
		return pass + 1, err
	default:
		return pass, endListing(ctx, tx, runID, listingIncomplete, fmt.Sprintf(
			"the listing still moved in its last pass (%d reconcile passes allowed, LIST_RECONCILE_PASSES): %s",
			reconcilePasses, moved))
	}
}

// endListing gives the run's listing its final state, and a problem when
// one is given.
func endListing(ctx context.Context, tx pgx.Tx, runID int64, state, problem string) error {
	_, err := tx.Exec(ctx, `UPDATE sync_runs SET listing = $2, listing_problem = coalesce(NULLIF($3, ''), listing_problem)
		WHERE id = $1`, runID, state, problem)
	return err
}

// drift says how a pass saw the listing move under it, or "" when it did
// not: pages that disagree on the total, an id shown on two pages, or
// fewer (or more) distinct ids than the total the pages agree on. Each is
// what offset pagination does when a campaign is created or deleted while
// a run pages through the account.
func drift(ctx context.Context, tx pgx.Tx, runID int64, pass int) (string, error) {
	var lowest, highest, shown, distinct int
	err := tx.QueryRow(ctx, `SELECT
			(SELECT coalesce(min(total), 0) FROM sync_run_pages WHERE run_id = $1 AND pass = $2 AND status = 'done'),
			(SELECT coalesce(max(total), 0) FROM sync_run_pages WHERE run_id = $1 AND pass = $2 AND status = 'done'),
			count(*), count(DISTINCT item_key)
		FROM sync_run_listing WHERE run_id = $1 AND pass = $2`, runID, pass).Scan(&lowest, &highest, &shown, &distinct)
	if err != nil {
		return "", err
	}
	var moved []string
	if lowest != highest {
		moved = append(moved, fmt.Sprintf("pages said total %d and %d", lowest, highest))
	}
	if shown > distinct {
		moved = append(moved, fmt.Sprintf("%d ids shown on two pages", shown-distinct))
	}
	// A total of 0 on every page says nothing to count against (a page
	// recorded without its pagination, as some tests do).
	if lowest == highest && highest > 0 && distinct != highest {
		moved = append(moved, fmt.Sprintf("%d distinct ids for a total of %d", distinct, highest))
	}
	return strings.Join(moved, "; "), nil
}

// revive takes an ended run back to running, because work of it (a
// dead-lettered page replayed from asynqmon) came back: it settles again
// once that work has ended. A client whose newer run is running keeps that
// one as its running run (the database allows one); the old run's work is
// still recorded and it settles the same way.
func revive(ctx context.Context, tx pgx.Tx, run Run) error {
	if !run.Finished() {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE sync_runs SET status = 'running', finished_at = NULL
		WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM sync_runs WHERE client_id = $2 AND status = 'running')`,
		run.ID, run.ClientID)
	return err
}

// markRemovals marks removed the client's campaigns that the run's last
// listing pass did not show, and clears the mark on those it showed; it
// counts the marks in the run. It is called when a run whose listing ended
// complete and clean settles. It does nothing when a newer run of the
// client has completed its listing since (a replay reviving an old run), or
// when a page of the pass was recorded before listings were (its total is
// unknown): the ids that pass showed are not all known. Rows are never
// deleted.
func markRemovals(ctx context.Context, tx pgx.Tx, runID int64, clientID string, pass int) error {
	_, err := tx.Exec(ctx, `WITH skip AS (
			SELECT 1 FROM sync_runs WHERE client_id = $2 AND id > $1 AND listing = 'complete'
			UNION ALL
			SELECT 1 FROM sync_run_pages WHERE run_id = $1 AND pass = $3 AND status = 'done' AND total IS NULL
		), shown AS (
			SELECT DISTINCT item_key AS id FROM sync_run_listing WHERE run_id = $1 AND pass = $3
		), gone AS (
			UPDATE campaigns c SET removed_at = now()
			WHERE c.client_id = $2 AND c.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM skip)
			  AND NOT EXISTS (SELECT 1 FROM shown WHERE shown.id = c.id)
			RETURNING 1
		), back AS (
			UPDATE campaigns c SET removed_at = NULL FROM shown
			WHERE c.client_id = $2 AND c.id = shown.id AND c.removed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM skip)
		) -- PostgreSQL runs a data-modifying WITH to completion whether read or not

		UPDATE sync_runs SET campaigns_removed = campaigns_removed + (SELECT count(*) FROM gone)
		WHERE id = $1`, runID, clientID, pass)
	return err
}
