package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// FetchPassPageID is the task id of a page of a run's listing pass: pass 0,
// the first listing, keeps FetchPageID; a reconcile pass lists the same
// page numbers again, so its ids name the pass. The payload needs no pass:
// the worker records a page in the run's current pass.
func FetchPassPageID(runID int64, pass, page int) string {
	if pass == 0 {
		return FetchPageID(runID, page)
	}
	return fmt.Sprintf("run%d:pass%d:page%d", runID, pass, page)
}

// EnqueuePassPages enqueues a fetch-page task for each page of a run's
// listing pass. delays, when not nil, holds for each page how long its task
// waits in the queue before it may run (see fanout).
func (q *Queue) EnqueuePassPages(ctx context.Context, runID int64, clientID string, pageSize, pass int, pages []int,
	delays []time.Duration) error {
	if delays != nil && len(delays) != len(pages) {
		return fmt.Errorf("tasks: %d delays for %d pages of run %d", len(delays), len(pages), runID)
	}
	jobs := make([]job, len(pages))
	for i, page := range pages {
		payload, err := json.Marshal(FetchPage{RunID: runID, ClientID: clientID, Page: page, PageSize: pageSize})
		if err != nil {
			return fmt.Errorf("tasks: encode page %d of run %d: %w", page, runID, err)
		}
		jobs[i] = job{task: asynq.NewTask(TypeFetchPage, payload), queue: PageQueue(page), id: FetchPassPageID(runID, pass, page)}
		if delays != nil {
			jobs[i].in = delays[i]
		}
	}
	return q.enqueueAll(ctx, jobs)
}
