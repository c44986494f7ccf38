package runs

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

// Starter starts runs and reconciles the running ones with the queues.
type Starter struct {
	store     *store.Store
	queue     *tasks.Queue
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	fanOut    *fanout.FanOut
	pageSize  int
	log       *slog.Logger
}

// NewStarter builds a Starter; rdb is the Redis holding the queues,
// pageSize is PAGE_SIZE, and fo enqueues the work Resume finds gone, as the
// workers enqueue a page's.
func NewStarter(st *store.Store, q *tasks.Queue, rdb redis.UniversalClient, pageSize int, fo *fanout.FanOut, log *slog.Logger) *Starter {
	return &Starter{store: st, queue: q, rdb: rdb, inspector: asynq.NewInspectorFromRedisClient(rdb),
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
func (s *Starter) Start(ctx context.Context, clientIDs []string) ([]Started, error) {
	lost, err := s.MarkEpoch(ctx)
	if err != nil {
		return nil, err
	}
	if lost {
		if _, err := s.Resume(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Started, 0, len(clientIDs))
	for _, id := range clientIDs {
		started, err := s.start(ctx, id)
		if err != nil {
			return out, err
		}
		out = append(out, started)
	}
	return out, nil
}

func (s *Starter) start(ctx context.Context, clientID string) (Started, error) {
	run, err := s.store.CreateRun(ctx, clientID)
	var busy *store.RunInProgressError
	if errors.As(err, &busy) {
		s.log.Info("client already has a run in progress; not starting another", "client", clientID, "run", busy.RunID)
		return Started{ClientID: clientID, RunID: busy.RunID, Skipped: true}, nil
	}
	if err != nil {
		return Started{}, err
	}
	if err := s.queue.EnqueuePages(ctx, run.ID, clientID, s.pageSize, []int{1}); err != nil {
		// Without its first task the run would block the client forever.
		reason := fmt.Sprintf("could not enqueue the first page: %v", err)
		if ferr := s.store.FailRun(context.WithoutCancel(ctx), run.ID, reason); ferr != nil {
			return Started{}, errors.Join(err, ferr)
		}
		return Started{}, err
	}
	s.log.Info("run started", "client", clientID, "run", run.ID)
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
func (s *Starter) Resume(ctx context.Context) ([]Resumed, error) {
	if err := s.publishQueues(ctx); err != nil {
		return nil, err
	}
	runs, err := s.store.RunningRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Resumed, 0, len(runs))
	for _, r := range runs {
		u, err := s.store.UnfinishedWork(ctx, r.ID)
		if err != nil {
			return out, err
		}
		pages, byPage, archived, err := s.reconcile(ctx, u)
		if err != nil {
			return out, err
		}
		res := Resumed{RunID: r.ID, ClientID: r.ClientID, Pages: len(pages), Archived: archived}
		w := fanout.Work{RunID: r.ID, ClientID: r.ClientID, PageSize: s.pageSize, Pass: u.Run.ListPass, Pages: pages}
		for _, page := range slices.Sorted(maps.Keys(byPage)) {
			w.Saves = append(w.Saves, fanout.PageItems{Page: page, Items: byPage[page]})
			res.Items += len(byPage[page])
		}
		if err := s.fanOut.Enqueue(ctx, w); err != nil {
			return out, err
		}
		if res.Pages+res.Items+res.Archived > 0 {
			s.log.Info("run resumed", "client", r.ClientID, "run", r.ID, "pages", res.Pages,
				"items", res.Items, "archived", res.Archived)
		}
		out = append(out, res)
	}
	return out, nil
}
