package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// fetchPage fetches one page, records it in the ledger and fans it out: a
// save task per pending record, and a fetch task per page it planned. The
// first page of a listing pass plans the pass from its total; any page
// whose has_more shows an unplanned next page plans that one, so campaigns
// added during a run are not missed. The ledger ends the listing where the
// platform contradicts itself (an empty page with has_more, a page
// repeated), so a run never pages without bound, and lists the account
// again (a reconcile pass) when the listing moved under the run. A page the
// ledger already holds is not fetched again: its task only re-enqueues what
// the page left pending. The work is fanned out with its slots of the
// client's budget booked (package fanout). A task of a cancelled run is
// dropped, as in cancelled.
func (h *Handlers) fetchPage(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.DecodeFetchPage(t.Payload())
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	log := h.log.With("client", p.ClientID, "run", p.RunID, "page", p.Page)
	res, done, err := h.store.RecordedPage(ctx, p.RunID, p.Page)
	if err != nil {
		return err
	}
	h.dbOutage.over()
	if res.Cancelled {
		h.dropCancelled(ctx, t)
		return nil
	}
	if done {
		log.InfoContext(ctx, "page already recorded; not fetched again", "pass", res.Pass,
			"saves_pending", len(res.PendingItems), "pages_pending", len(res.PendingPages))
		// Not booked: its tasks are most likely queued already, holding
		// their slots.
		return h.fanOut.EnqueueUnbooked(ctx, work(p, res.Pass, res.PendingPages, res.PendingItems))
	}
	page, err := h.platform.ListCampaigns(ctx, p.ClientID, p.Page, p.PageSize)
	if err != nil {
		return fmt.Errorf("fetch page %d: %w", p.Page, err)
	}
	// An empty page ends the listing whatever has_more or total say: a
	// platform that answers it with has_more true would be paged forever.
	through := 0
	if p.Page == 1 && len(page.Data) > 0 {
		through = (page.Pagination.Total + p.PageSize - 1) / p.PageSize
	}
	if page.Pagination.HasMore && len(page.Data) > 0 {
		through = max(through, p.Page+1)
	}
	items := make([]store.Item, len(page.Data))
	for i, raw := range page.Data {
		key, ok := campaign.KeyOf(raw)
		if !ok {
			key = fmt.Sprintf("#page-%d-record-%d", p.Page, i+1)
		}
		items[i] = store.Item{Key: key, Record: raw}
	}
	res, err = h.store.RecordPage(ctx, store.FetchedPage{RunID: p.RunID, Page: p.Page, Items: items, PlanThrough: through,
		Total: page.Pagination.Total, HasMore: page.Pagination.HasMore, ReconcilePasses: h.reconcilePasses})
	if err != nil {
		return err
	}
	h.metrics.PageFetched(p.ClientID)
	if res.Cancelled {
		log.InfoContext(ctx, "page fetched as its run was cancelled; not recorded, nothing enqueued")
		return nil
	}
	// Only the work this page revealed is booked its slots: the rest was
	// planned or listed before, and its task most likely exists, holding or
	// having used its own slot; it is enqueued again only in case it was
	// lost, and then books a slot when it runs.
	newPages, oldPages := split(res.PendingPages, func(page int) bool { return slices.Contains(res.Planned, page) })
	newItems, oldItems := split(res.PendingItems, func(it store.Item) bool { return res.Listed[it.Key] })
	if err := h.fanOut.Enqueue(ctx, work(p, res.Pass, newPages, newItems)); err != nil {
		return err
	}
	if err := h.fanOut.EnqueueUnbooked(ctx, work(p, res.Pass, oldPages, oldItems)); err != nil {
		return err
	}
	log.InfoContext(ctx, "page fetched", "pass", res.Pass, "records", len(items), "saves_enqueued", len(res.PendingItems),
		"pages_enqueued", len(res.PendingPages), "has_more", page.Pagination.HasMore, "total", page.Pagination.Total)
	if res.Problem != "" {
		log.WarnContext(ctx, "listing ended short; the run will end incomplete", "problem", res.Problem)
	}
	return nil
}

// work is what a page left pending: pages of its listing pass to fetch
// and records of the page to save.
func work(p tasks.FetchPage, pass int, pages []int, items []store.Item) fanout.Work {
	return fanout.Work{RunID: p.RunID, ClientID: p.ClientID, PageSize: p.PageSize, Pass: pass, Pages: pages,
		Saves: []fanout.PageItems{{Page: p.Page, Items: items}}}
}

// split parts s into the elements for which in holds and the others.
func split[T any](s []T, in func(T) bool) (yes, no []T) {
	for _, v := range s {
		if in(v) {
			yes = append(yes, v)
		} else {
			no = append(no, v)
		}
	}
	return yes, no
}

func taskID(ctx context.Context) string {
	id, _ := asynq.GetTaskID(ctx)
	return id
}
