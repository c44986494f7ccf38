// Package planner starts and resumes sync runs: it records a run per client
// in the ledger and enqueues the run's first page, whose worker discovers the
// page count and enqueues the rest. It talks to PostgreSQL and Redis only,
// never to the platform, so starting runs is instant and needs no
// credentials; every counted request is made by workers under the shared
// rate budget.
package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// Planner starts and resumes runs.
type Planner struct {
	store     *store.Store
	queue     *tasks.Queue
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	fanOut    *fanout.FanOut
	pageSize  int
	log       *slog.Logger
}

// New builds a Planner; rdb is the Redis holding the queues, pageSize is
// PAGE_SIZE, and fo enqueues the work Resume finds gone, as the workers
// enqueue a page's.
func New(st *store.Store, q *tasks.Queue, rdb redis.UniversalClient, pageSize int, fo *fanout.FanOut, log *slog.Logger) *Planner {
	return &Planner{store: st, queue: q, rdb: rdb, inspector: asynq.NewInspectorFromRedisClient(rdb),
		fanOut: fo, pageSize: pageSize, log: log}
}

// Started is the outcome of starting one client's run.
type Started struct {
	ClientID string
	RunID    int64
	// Skipped is set when the client already had a run in progress
	// (RunID is then that run): a client is never synced twice at once.
	Skipped bool
}

// Start begins one run per client. A client with a run in progress is
// skipped and reported, not an error. If Redis lost its queues since the
// last start, the running runs are resumed first: their clients would
// otherwise stay blocked by runs whose work is gone.
func (p *Planner) Start(ctx context.Context, clientIDs []string) ([]Started, error) {
	lost, err := p.MarkEpoch(ctx)
	if err != nil {
		return nil, err
	}
	if lost {
		if _, err := p.Resume(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Started, 0, len(clientIDs))
	for _, id := range clientIDs {
		s, err := p.start(ctx, id)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *Planner) start(ctx context.Context, clientID string) (Started, error) {
	run, err := p.store.CreateRun(ctx, clientID)
	var busy *store.RunInProgressError
	if errors.As(err, &busy) {
		p.log.Info("client already has a run in progress; not starting another", "client", clientID, "run", busy.RunID)
		return Started{ClientID: clientID, RunID: busy.RunID, Skipped: true}, nil
	}
	if err != nil {
		return Started{}, err
	}
	if err := p.queue.EnqueuePages(ctx, run.ID, clientID, p.pageSize, []int{1}); err != nil {
		// Without its first task the run would block the client forever.
		reason := fmt.Sprintf("could not enqueue the first page: %v", err)
		if ferr := p.store.FailRun(context.WithoutCancel(ctx), run.ID, reason); ferr != nil {
			return Started{}, errors.Join(err, ferr)
		}
		return Started{}, err
	}
	p.log.Info("run started", "client", clientID, "run", run.ID)
	return Started{ClientID: clientID, RunID: run.ID}, nil
}

// Resumed says what Resume did for one run.
type Resumed struct {
	RunID    int64
	ClientID string
	// Pages and Items are the work re-enqueued because its tasks were gone.
	Pages int
	Items int
	// Archived counts tasks asynq archived without the ledger knowing,
	// now recorded as dead letters.
	Archived int
}

// Resume brings every running run's queued work in line with the ledger:
// the unfinished pages and items whose tasks are gone from Redis (a flush,
// or a restart without persistence) are enqueued again, and those whose
// tasks asynq archived behind the ledger's back are recorded as dead
// letters, so the run can end. Work still queued is left alone, and a
// repeated save changes nothing, so Resume is safe to run at any time.
func (p *Planner) Resume(ctx context.Context) ([]Resumed, error) {
	runs, err := p.store.RunningRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Resumed, 0, len(runs))
	for _, r := range runs {
		u, err := p.store.UnfinishedWork(ctx, r.ID)
		if err != nil {
			return out, err
		}
		pages, byPage, archived, err := p.reconcile(ctx, u)
		if err != nil {
			return out, err
		}
		res := Resumed{RunID: r.ID, ClientID: r.ClientID, Pages: len(pages), Archived: archived}
		w := fanout.Work{RunID: r.ID, ClientID: r.ClientID, PageSize: p.pageSize, Pass: u.Run.ListPass, Pages: pages}
		for _, page := range slices.Sorted(maps.Keys(byPage)) {
			w.Saves = append(w.Saves, fanout.PageItems{Page: page, Items: byPage[page]})
			res.Items += len(byPage[page])
		}
		if err := p.fanOut.Enqueue(ctx, w); err != nil {
			return out, err
		}
		if res.Pages+res.Items+res.Archived > 0 {
			p.log.Info("run resumed", "client", r.ClientID, "run", r.ID, "pages", res.Pages,
				"items", res.Items, "archived", res.Archived)
		}
		out = append(out, res)
	}
	return out, nil
}
