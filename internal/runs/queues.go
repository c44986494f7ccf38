package runs

import (
	"context"
	"fmt"

	"github.com/adsync/adsync/internal/tasks"
)

// asynqQueuesKey is asynq v0.26's index of queue names (its internal
// base.AllQueues), which its inspector and asynqmon list queues from.
const asynqQueuesKey = "asynq:queues"

// publishQueues puts adsync's queues back in asynq's index. An asynq client
// adds a queue there on its first enqueue only, and remembers that it did,
// so a long-lived client (a worker's) never adds it again after Redis lost
// its data: the queue then holds tasks that the inspector does not see, and
// Resume would take an archived task for a missing one and never record its
// dead letter.
func (s *Starter) publishQueues(ctx context.Context) error {
	if err := s.rdb.SAdd(ctx, asynqQueuesKey, tasks.Queues).Err(); err != nil {
		return fmt.Errorf("runs: list adsync's queues in asynq's index: %w", err)
	}
	return nil
}
