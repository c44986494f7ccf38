// Package fanout enqueues the work a run reveals, the one way the page
// handler and the resume of a run both do it: a fetch task per page and a
// save task per record, each given its own slot of the client's rate budget
// when it is created and queued for shortly before that slot.
//
// Queued all at once instead, a page's saves would mostly find no budget
// and cycle through the queue for it. Booked here, a task comes back from
// the queue when its slot is near, claims it (ratelimit.Limiter.Wait under
// its task id as holder) and sleeps the rest in place.
package fanout

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// FanOut books and enqueues the tasks of runs. It is safe for concurrent use.
type FanOut struct {
	queue   *tasks.Queue
	limiter *ratelimit.Limiter
	// savesSpend says whether a save makes a counted request (SYNC_CALL);
	// a save that makes none is booked nothing and runs at once.
	savesSpend bool
}

// New returns a FanOut that enqueues on q and books on lim; a nil lim books
// nothing (every task runs at once and asks for its slot when it runs).
func New(q *tasks.Queue, lim *ratelimit.Limiter, savesSpend bool) *FanOut {
	return &FanOut{queue: q, limiter: lim, savesSpend: savesSpend}
}

// Work is what one fan-out enqueues for one run.
type Work struct {
	RunID    int64
	ClientID string
	PageSize int
	// Pass is the listing pass the pages belong to.
	Pass int
	// Pages are the pages to fetch; the first few go first in the client's
	// line, since they reveal more work (see pagesAhead).
	Pages []int
	// Saves are the records to save, by the page that listed them.
	Saves []PageItems
}

// PageItems are the records one page listed.
type PageItems struct {
	Page  int
	Items []store.Item
}

// Enqueue books a slot for every task of w that spends budget, the first
// pagesAhead pages first and urgent (ratelimit.WithUrgentHolder: a page
// retried takes a save's slot rather than wait behind every save), then
// the saves, then the other pages, and enqueues each task for shortly
// before its slot. Tasks already queued
// keep their place and their slot (both are keyed by task id), so a
// fan-out that is retried books and enqueues nothing twice.
func (f *FanOut) Enqueue(ctx context.Context, w Work) error {
	pages := make([]string, 0, len(w.Pages))
	for _, page := range w.Pages {
		pages = append(pages, tasks.FetchPassPageID(w.RunID, w.Pass, page))
	}
	var saves []string
	if f.savesSpend {
		for _, s := range w.Saves {
			for _, it := range s.Items {
				saves = append(saves, tasks.SaveID(w.RunID, it.Key))
			}
		}
	}
	var due []time.Duration
	if f.limiter != nil {
		ahead := min(len(pages), pagesAhead)
		booked, err := f.limiter.Book(ctx, w.ClientID, pages[:ahead], slices.Concat(saves, pages[ahead:]))
		if err != nil {
			return fmt.Errorf("fanout: run %d: %w", w.RunID, err)
		}
		// Back in enqueue's order: every page, then the saves.
		due = slices.Concat(booked[:ahead], booked[ahead+len(saves):], booked[ahead:ahead+len(saves)])
	}
	return f.enqueue(ctx, w, due)
}

// pagesAhead is how many of a fan-out's pages are booked before its saves;
// the others come after them. A few pages ahead keep the client's line
// from running dry (each reveals a page of saves, booked at the end of the
// line when it answers). All of them ahead would make the first window of
// every run nothing but pages, and each page is a ledger transaction that
// writes its records: fifty runs started together then put five hundred of
// those on PostgreSQL within a second, which held the queue up long enough
// that tasks came back too late for their slots.
const pagesAhead = 3

// EnqueueUnbooked enqueues w's tasks at once, booking nothing: for work
// whose tasks are most likely queued already (a page fetched again), where
// a booking for a task that has already claimed its slot would be a slot
// spent for nothing. A task that was not queued books its slot when it runs.
func (f *FanOut) EnqueueUnbooked(ctx context.Context, w Work) error {
	return f.enqueue(ctx, w, nil)
}

// enqueue enqueues the pages, then the saves, each after its entry of due
// (in Enqueue's order), or at once when due is nil.
func (f *FanOut) enqueue(ctx context.Context, w Work, due []time.Duration) error {
	take := func(n int) []time.Duration {
		if len(due) < n {
			return nil
		}
		d := due[:n]
		due = due[n:]
		return d
	}
	if err := f.queue.EnqueuePassPages(ctx, w.RunID, w.ClientID, w.PageSize, w.Pass, w.Pages, take(len(w.Pages))); err != nil {
		return err
	}
	for _, s := range w.Saves {
		if err := f.queue.EnqueueSaves(ctx, w.RunID, w.ClientID, s.Page, s.Items, take(len(s.Items))); err != nil {
			return err
		}
	}
	return nil
}
