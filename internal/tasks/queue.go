package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"

	"github.com/adsync/adsync/internal/store"
)

// Queue enqueues adsync's tasks with the retry budget and timeout every
// task of the deployment shares.
type Queue struct {
	client   *asynq.Client
	maxRetry int
	timeout  time.Duration
}

// NewQueue wraps an asynq client. maxRetry is TASK_MAX_RETRY; timeout bounds
// one run of a task (a hung platform request is cut by PLATFORM_TIMEOUT well
// before it). Both come from the task policy (pipeline.Policy).
//
// Every task is enqueued with one asynq retry more than maxRetry, a spare
// that the policy does not spend on a failure: the worker dead-letters a
// task itself once it has failed maxRetry times (recording it in the
// ledger, then asynq.SkipRetry), because asynq archives a task that errs on
// its last retry even when the error is a requeue, not a failure. With the
// spare, a task sent back to the queue (for rate budget, for the database)
// goes back on every attempt.
func NewQueue(client *asynq.Client, maxRetry int, timeout time.Duration) *Queue {
	return &Queue{client: client, maxRetry: maxRetry, timeout: timeout}
}

// enqueueParallelism bounds the enqueues of one fan-out that are in flight
// at once. asynq v0.26 has no batch enqueue (each EnqueueContext is one Lua
// script round trip to Redis), so a page's tasks are pipelined through
// concurrent calls instead of one round trip after the other.
const enqueueParallelism = 16

// job is one task to enqueue, with its queue, id and how long it waits in
// the queue before it may run.
type job struct {
	task      *asynq.Task
	queue, id string
	in        time.Duration
}

// EnqueuePages enqueues a fetch-page task for each page of a run's first
// listing pass.
func (q *Queue) EnqueuePages(ctx context.Context, runID int64, clientID string, pageSize int, pages []int) error {
	return q.EnqueuePassPages(ctx, runID, clientID, pageSize, 0, pages, nil)
}

// EnqueueSaves enqueues a save task for each item of a page of a run, many
// at once. delays, when not nil, holds for each item how long its task waits
// in the queue before it may run (see fanout).
func (q *Queue) EnqueueSaves(ctx context.Context, runID int64, clientID string, page int, items []store.Item,
	delays []time.Duration) error {
	if delays != nil && len(delays) != len(items) {
		return fmt.Errorf("tasks: %d delays for %d items of run %d", len(delays), len(items), runID)
	}
	jobs := make([]job, len(items))
	for i, it := range items {
		payload, err := json.Marshal(Save{RunID: runID, ClientID: clientID, Page: page, ItemKey: it.Key, Record: it.Record})
		if err != nil {
			return fmt.Errorf("tasks: encode item %q of run %d: %w", it.Key, runID, err)
		}
		jobs[i] = job{task: asynq.NewTask(TypeSave, payload), queue: QueueSaves, id: SaveID(runID, it.Key)}
		if delays != nil {
			jobs[i].in = delays[i]
		}
	}
	return q.enqueueAll(ctx, jobs)
}

// enqueueAll enqueues jobs with up to enqueueParallelism in flight, and
// returns the first error. Jobs enqueued before an error stay queued: the
// caller's retry enqueues the rest, and task ids make the repeats no-ops.
// A few goroutines take the jobs in turn rather than one goroutine per job:
// each enqueue runs deep in asynq and go-redis, and a fresh goroutine would
// grow (copy) its stack for every task of the page.
func (q *Queue) enqueueAll(ctx context.Context, jobs []job) error {
	g, ctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(enqueueParallelism, len(jobs)) {
		g.Go(func() error {
			for i := next.Add(1) - 1; i < int64(len(jobs)); i = next.Add(1) - 1 {
				if err := q.enqueue(ctx, jobs[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// enqueue adds one task; a task with the same id already queued, running or
// waiting to retry is the same work, so the conflict is success.
func (q *Queue) enqueue(ctx context.Context, j job) error {
	opts := []asynq.Option{asynq.Queue(j.queue), asynq.TaskID(j.id), asynq.MaxRetry(q.maxRetry + 1), asynq.Timeout(q.timeout)}
	if j.in > 0 {
		opts = append(opts, asynq.ProcessIn(j.in))
	}
	_, err := q.client.EnqueueContext(ctx, j.task, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("tasks: enqueue %s: %w", j.id, err)
	}
	return nil
}
