package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

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
// before it).
func NewQueue(client *asynq.Client, maxRetry int, timeout time.Duration) *Queue {
	return &Queue{client: client, maxRetry: maxRetry, timeout: timeout}
}

// EnqueuePages enqueues a fetch-page task for each page of a run.
func (q *Queue) EnqueuePages(ctx context.Context, runID int64, clientID string, pageSize int, pages []int) error {
	for _, page := range pages {
		payload, err := json.Marshal(FetchPage{RunID: runID, ClientID: clientID, Page: page, PageSize: pageSize})
		if err != nil {
			return fmt.Errorf("tasks: encode page %d of run %d: %w", page, runID, err)
		}
		if err := q.enqueue(ctx, asynq.NewTask(TypeFetchPage, payload), QueuePages, FetchPageID(runID, page)); err != nil {
			return err
		}
	}
	return nil
}

// EnqueueSaves enqueues a save task for each item of a page of a run.
func (q *Queue) EnqueueSaves(ctx context.Context, runID int64, clientID string, page int, items []store.Item) error {
	for _, it := range items {
		payload, err := json.Marshal(Save{RunID: runID, ClientID: clientID, Page: page, ItemKey: it.Key, Record: it.Record})
		if err != nil {
			return fmt.Errorf("tasks: encode item %q of run %d: %w", it.Key, runID, err)
		}
		if err := q.enqueue(ctx, asynq.NewTask(TypeSave, payload), QueueSaves, SaveID(runID, it.Key)); err != nil {
			return err
		}
	}
	return nil
}

// enqueue adds one task; a task with the same id already queued, running or
// waiting to retry is the same work, so the conflict is success.
func (q *Queue) enqueue(ctx context.Context, t *asynq.Task, queue, id string) error {
	_, err := q.client.EnqueueContext(ctx, t, asynq.Queue(queue), asynq.TaskID(id),
		asynq.MaxRetry(q.maxRetry), asynq.Timeout(q.timeout))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("tasks: enqueue %s: %w", id, err)
	}
	return nil
}
