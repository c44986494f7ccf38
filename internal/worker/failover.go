package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/runs"
)

// primaryCheckInterval is how often the failover watch asks Redis who its
// primary is: a lost task waits at most this long (after the promotion)
// to be found again.
const primaryCheckInterval = time.Second

// replIDPattern finds the replication ID in INFO replication. A server
// takes a new one whenever it becomes a primary: a replica promoted by
// Sentinel or by Redis Cluster, or a server restarted without its data.
var replIDPattern = regexp.MustCompile(`(?m)^master_replid:([0-9a-f]+)\r?$`)

// failoverWatch notices that the Redis primary changed under the worker and
// resumes the running runs from the PostgreSQL ledger. Replication is
// asynchronous, so the promoted replica may lack the last moments of the
// queues: tasks enqueued, retried or put back just before the failover.
// The ledger knows every unfinished page and record of every run, and
// runs.Starter.Resume re-enqueues those whose tasks are gone, leaving the rest
// alone; the saves it causes are upserts, so every campaign still ends
// saved once. Every worker watches; their resumes are safe together, since
// task IDs are fixed and a task already queued is not enqueued again.
type failoverWatch struct {
	rdb      redis.UniversalClient
	resume   func(context.Context) ([]runs.Resumed, error)
	log      *slog.Logger
	interval time.Duration

	// primary is the last identity seen; unreachable is set while Redis
	// does not answer, so that the outage is logged once.
	primary     string
	unreachable bool
	lostAt      time.Time
	// sweepAt is when to look for tasks stranded by the last failover
	// (requeueStrandedTasks); zero when none is due.
	sweepAt time.Time
	sweep   func(context.Context, redis.UniversalClient) (int, error)
}

// newFailoverWatch builds the watch; it does nothing until run.
func newFailoverWatch(rdb redis.UniversalClient, starter *runs.Starter, log *slog.Logger) *failoverWatch {
	return &failoverWatch{rdb: rdb, resume: starter.Resume, sweep: requeueStrandedTasks, log: log.With("component", "failover"),
		interval: primaryCheckInterval}
}

// start runs the watch in the background until ctx ends; the returned
// function waits for it to stop.
func (w *failoverWatch) start(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() { w.run(ctx) })
	return wg.Wait
}

func (w *failoverWatch) run(ctx context.Context) {
	w.check(ctx)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.check(ctx)
		}
	}
}

// check asks for the primary's identity once and acts on a change.
func (w *failoverWatch) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, w.interval)
	id, err := primaryIdentity(cctx, w.rdb)
	cancel()
	if err != nil {
		if ctx.Err() == nil && !w.unreachable {
			w.unreachable, w.lostAt = true, time.Now()
			w.log.Warn("Redis primary lost: waiting for it or for a promoted replica", "error", err.Error())
		}
		return
	}
	if w.unreachable {
		w.unreachable = false
		w.log.Info("Redis reachable again", "after", time.Since(w.lostAt).Round(time.Millisecond).String())
	}
	if w.primary == "" || w.primary == id {
		w.primary = id
		w.sweepIfDue(ctx)
		return
	}
	w.log.Warn("Redis primary changed: work queued just before the failover may be lost; resuming running runs from the ledger",
		"rate_budgets", "each client's budget is fenced for one window")
	// The new identity is kept only once the resume succeeded, so that a
	// resume that failed (PostgreSQL away too) is tried again next time.
	resumed, err := w.resume(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("resume after the Redis failover failed; will try again", "error", err.Error())
		}
		return
	}
	w.primary = id
	w.sweepAt = time.Now().Add(orphanSweepAfter)
	pages, items, runs := 0, 0, 0
	for _, r := range resumed {
		pages, items = pages+r.Pages, items+r.Items
		if r.Pages+r.Items > 0 {
			runs++
		}
	}
	w.log.Info("work resumed after the Redis failover", "running_runs", len(resumed), "runs_with_lost_work", runs,
		"pages_reenqueued", pages, "records_reenqueued", items)
}

// sweepIfDue requeues the tasks stranded "active" by the last failover,
// once it is time (orphanSweepAfter after it), and tries again at the next
// check if that fails.
func (w *failoverWatch) sweepIfDue(ctx context.Context) {
	if w.sweepAt.IsZero() || time.Now().Before(w.sweepAt) {
		return
	}
	n, err := w.sweep(ctx, w.rdb)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("could not look for tasks stranded by the Redis failover; will try again", "error", err.Error())
		}
		return
	}
	w.sweepAt = time.Time{}
	w.log.Info("tasks stranded as running by the Redis failover put back in their queue", "tasks", n)
}

// primaryIdentity names the primary (or, in a Cluster, the set of primaries)
// that rdb writes to, by replication ID.
func primaryIdentity(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	cluster, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return replID(ctx, rdb)
	}
	var mu sync.Mutex
	var ids []string
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		id, err := replID(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(ids)
	return strings.Join(ids, ","), nil
}

// replID reads one server's replication ID.
func replID(ctx context.Context, c redis.Cmdable) (string, error) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return "", fmt.Errorf("INFO replication: %w", err)
	}
	m := replIDPattern.FindStringSubmatch(info)
	if m == nil {
		return "", errors.New("INFO replication shows no master_replid")
	}
	return m[1], nil
}
