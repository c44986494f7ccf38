package store

import (
	"cmp"
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
	// Total and HasMore are the page's pagination as the platform sent it.
	Total   int
	HasMore bool
	// ReconcilePasses is how many times the run may list its pages again
	// when its listing moved (LIST_RECONCILE_PASSES).
	ReconcilePasses int
}

// PageResult says what the caller must enqueue after RecordPage committed.
type PageResult struct {
	// Pass is the listing pass that PendingPages belong to (0 is the first
	// listing, 1.. reconcile passes): it is part of their task ids.
	Pass int
	// PendingItems are this page's items not yet saved or dead-lettered.
	PendingItems []Item
	// PendingPages are pages this page planned that are not done yet.
	PendingPages []int
	// Planned are the PendingPages this call added to the plan, and Listed
	// the keys of the PendingItems it added to the ledger: the work that
	// has no task yet. The rest was planned or listed before (a page
	// recorded again, has_more re-planning the next page), and its task
	// most likely exists, with its slot of the rate budget booked.
	Planned []int
	Listed  map[string]bool
	// Problem is the contradiction that ended the run's listing, if one
	// did: this page's or an earlier one's.
	Problem string
	// Cancelled says the run was cancelled (its client removed): the page
	// was not recorded and nothing is pending.
	Cancelled bool
}

// RecordPage marks a page of the run's current listing pass done, plans the
// pages it revealed and records its items, in one transaction; the caller
// enqueues what the result says. Nothing fetched is thrown away: a page of
// a run that already ended (a dead-lettered page replayed from asynqmon)
// takes the run back to running until it settles again. A page that
// contradicts the listing (empty with has_more, or the ids of the page
// before it again) ends the listing: it plans nothing more, and the run
// ends incomplete. The page that closes a pass either ends the listing or,
// when the pass saw the listing move, plans the next pass's first page
// (see closePass). Calling it again for the same page changes nothing and
// returns what is still pending, so a retried task re-enqueues exactly what
// a crash may have left out.
func (s *Store) RecordPage(ctx context.Context, p FetchedPage) (PageResult, error) {
	var res PageResult
	err := s.inLedgerTx(ctx, func(tx pgx.Tx) ([]int64, error) {
		run, err := lockRun(ctx, tx, p.RunID)
		if err != nil {
			return nil, err
		}
		if run.Status == StatusCancelled {
			res.Cancelled = true // its client was removed: nothing more of it is wanted
			return nil, nil
		}
		if err := revive(ctx, tx, run); err != nil {
			return nil, err
		}
		pass := run.ListPass
		if err := insertListing(ctx, tx, pass, p); err != nil {
			return nil, err
		}
		problem, err := pageProblem(ctx, tx, pass, p)
		if err != nil {
			return nil, err
		}
		through := p.PlanThrough
		if problem != "" || run.ListingProblem != "" {
			through = 0 // the listing has ended: plan nothing more
		}
		if res.Planned, err = planPages(ctx, tx, p.RunID, pass, p.Page, through); err != nil {
			return nil, err
		}
		if res.Listed, err = insertItems(ctx, tx, p); err != nil {
			return nil, err
		}
		if err := endPage(ctx, tx, p.RunID, pass, p.Page, pageDone, &pageCounts{p.Total, len(p.Items)}); err != nil {
			return nil, err
		}
		res.Pass = pass
		if res.PendingPages, err = pendingPages(ctx, tx, p.RunID, pass, p.Page, through); err != nil {
			return nil, err
		}
		next, err := closePass(ctx, tx, p.RunID, p.ReconcilePasses)
		if err != nil {
			return nil, err
		}
		if next > pass {
			res.Pass, res.PendingPages, res.Planned = next, []int{1}, []int{1}
		}
		if res.PendingItems, err = pendingItems(ctx, tx, p.RunID, p.Page); err != nil {
			return nil, err
		}
		res.Problem = cmp.Or(run.ListingProblem, problem)
		return []int64{p.RunID}, nil
	})
	if err != nil {
		return PageResult{}, fmt.Errorf("store: record page %d of run %d: %w", p.Page, p.RunID, sanitize(err))
	}
	return res, nil
}

// RecordedPage tells whether the run was cancelled (res.Cancelled) and
// whether the page is already recorded as done in the run's current
// listing pass and, if so, what is still pending after it: its items not
// yet ended, and the pass's pages after it not yet fetched. A page task
// can run again after its page was recorded (asynq delivers at least once,
// and a later page's has_more can re-plan a page that was done meanwhile);
// its caller re-enqueues the leftovers without spending a rate-limited
// request on the page again. The common answer, a page to fetch, takes one
// statement: it lies between a run's start and its first request. A run
// the ledger does not hold is ErrRunNotFound.
func (s *Store) RecordedPage(ctx context.Context, runID int64, page int) (PageResult, bool, error) {
	var (
		res                   PageResult
		runStatus, pageStatus string
	)
	err := s.pool.QueryRow(ctx, pageStatusSQL, runID, page).Scan(&runStatus, &res.Pass, &pageStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return PageResult{}, false, fmt.Errorf("store: run %d: %w", runID, ErrRunNotFound)
	}
	if err != nil {
		return PageResult{}, false, fmt.Errorf("store: read page %d of run %d: %w", page, runID, sanitize(err))
	}
	res.Cancelled = runStatus == StatusCancelled
	if res.Cancelled || pageStatus != pageDone {
		return res, false, nil
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if res.PendingPages, err = pendingPages(ctx, tx, runID, res.Pass, page, math.MaxInt32); err != nil {
			return err
		}
		res.PendingItems, err = pendingItems(ctx, tx, runID, page)
		return err
	})
	if err != nil {
		return PageResult{}, false, fmt.Errorf("store: read what page %d of run %d left: %w", page, runID, sanitize(err))
	}
	return res, true, nil
}

// planPages adds pages page+1..through of a pass to the run's plan and
// returns those that were not in it yet.
func planPages(ctx context.Context, tx pgx.Tx, runID int64, pass, page, through int) ([]int, error) {
	if through <= page {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `INSERT INTO sync_run_pages (run_id, pass, page)
		SELECT $1, $2, g FROM generate_series($3::int, $4::int) g
		ON CONFLICT DO NOTHING RETURNING page`, runID, pass, page+1, through)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// insertItems adds the page's records to the run's items and returns the
// keys of those that were not there yet; a record already there (a page
// recorded twice, or an id a reconcile pass shows again) stays as it is.
func insertItems(ctx context.Context, tx pgx.Tx, p FetchedPage) (map[string]bool, error) {
	if len(p.Items) == 0 {
		return nil, nil
	}
	keys := make([]string, len(p.Items))
	records := make([][]byte, len(p.Items))
	for i, it := range p.Items {
		keys[i], records[i] = it.Key, it.Record
	}
	rows, err := tx.Query(ctx, `INSERT INTO sync_run_items (run_id, item_key, page, record)
		SELECT $1, k, $2, r FROM unnest($3::text[], $4::bytea[]) AS u(k, r)
		ON CONFLICT DO NOTHING RETURNING item_key`, p.RunID, p.Page, keys, records)
	if err != nil {
		return nil, err
	}
	added := map[string]bool{}
	var key string
	_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
		added[key] = true
		return nil
	})
	return added, err
}

func pendingPages(ctx context.Context, tx pgx.Tx, runID int64, pass, page, through int) ([]int, error) {
	if through <= page {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT page FROM sync_run_pages
		WHERE run_id = $1 AND pass = $2 AND page > $3 AND page <= $4 AND status = 'pending' ORDER BY page`,
		runID, pass, page, through)
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
