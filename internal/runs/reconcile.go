package runs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// taskState says where a pending ledger entry's task is.
type taskState int

const (
	taskMissing  taskState = iota // gone from Redis: enqueue it again
	taskQueued                    // pending, active, scheduled or retrying: leave it
	taskArchived                  // failed for good without the ledger knowing
)

// stateOf looks up a task by id in its queue.
func (s *Starter) stateOf(queue, id string) (taskState, *asynq.TaskInfo, error) {
	info, err := s.inspector.GetTaskInfo(queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return taskMissing, nil, nil
	case err != nil:
		return 0, nil, fmt.Errorf("runs: look up task %s: %w", id, err)
	case info.State == asynq.TaskStateArchived:
		return taskArchived, info, nil
	case info.State == asynq.TaskStateCompleted:
		// Completed tasks are kept only with a retention, which adsync does
		// not set; one that finished left the ledger settled, so it is
		// missing work only if the ledger still says pending.
		return taskMissing, info, nil
	default:
		return taskQueued, info, nil
	}
}

// recordArchived ends in the ledger a task that asynq archived while the
// ledger still counts it pending: the worker died on its last attempt, or
// PostgreSQL was down when it tried to record the dead letter. The run can
// then settle, and the task stays in asynqmon's archive to be replayed.
func (s *Starter) recordArchived(ctx context.Context, run store.Run, info *asynq.TaskInfo, page int, itemKey string) error {
	reason := info.LastErr
	if reason == "" {
		reason = "archived by asynq without a recorded error"
	}
	return s.store.RecordDeadLetter(ctx, store.DeadLetter{
		TaskID: info.ID, TaskType: info.Type, RunID: run.ID, ClientID: run.ClientID,
		ItemKey: itemKey, Page: page, Reason: reason, Payload: info.Payload,
	})
}

// reconcile sorts a run's unfinished work by where its tasks are: it
// returns the pages and items whose tasks are gone, and records in the
// ledger those whose tasks asynq archived.
func (s *Starter) reconcile(ctx context.Context, u store.Unfinished) (pages []int, items map[int][]store.Item, archived int, err error) {
	items = map[int][]store.Item{}
	for _, page := range u.Pages {
		st, info, err := s.stateOf(tasks.PageQueue(page), tasks.FetchPassPageID(u.Run.ID, u.Run.ListPass, page))
		if err != nil {
			return nil, nil, 0, err
		}
		switch st {
		case taskMissing:
			pages = append(pages, page)
		case taskArchived:
			archived++
			if err := s.recordArchived(ctx, u.Run, info, page, ""); err != nil {
				return nil, nil, 0, err
			}
		}
	}
	for _, it := range u.Items {
		st, info, err := s.stateOf(tasks.QueueSaves, tasks.SaveID(u.Run.ID, it.Key))
		if err != nil {
			return nil, nil, 0, err
		}
		switch st {
		case taskMissing:
			items[it.Page] = append(items[it.Page], it.Item)
		case taskArchived:
			archived++
			if err := s.recordArchived(ctx, u.Run, info, 0, it.Key); err != nil {
				return nil, nil, 0, err
			}
		}
	}
	return pages, items, archived, nil
}
