package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/tasks"
)

// orphanSweepAfter is how long after a primary change the sweep for
// stranded tasks runs: long enough for asynq's heartbeats (every 5 s) to
// have pushed the lease of every task still running to 30 s ahead again.
const orphanSweepAfter = 15 * time.Second

// liveLeaseAhead separates the leases of running tasks (renewed to 30 s
// ahead every 5 s, so at least 25 s ahead) from those of stranded ones,
// whose last renewal went to the dead primary's lost writes or stopped
// with it, and lie at most 13 s ahead when the sweep runs.
const liveLeaseAhead = 20 * time.Second

// requeueStranded is asynq's own requeue (internal/rdb's requeueCmd, run
// when a server stops with tasks in hand), guarded by the lease: only a task
// whose lease is no longer renewed goes back to pending. asynq exposes no
// way to move an active task, and its recoverer would take one only a
// minute or two later (30 s past the lease, polled once a minute), so this
// is written against asynq v0.26's key layout (asynq:{queue}:active,
// :lease, :pending, :t:ID), all in the queue's hash slot.
var requeueStranded = redis.NewScript(`
local lease = redis.call('ZSCORE', KEYS[2], ARGV[1])
if lease and tonumber(lease) >= tonumber(ARGV[2]) then
  return 0
end
if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[4], 'state', 'pending')
return 1`)

// requeueStrandedTasks puts back in their queue the tasks that the promoted
// primary holds as running although no worker runs them: their end (done,
// or back to the queue for budget) was written to the old primary and lost
// with it. A stranded task whose record is pending would hold its run
// back; one whose record is settled runs again, which changes nothing.
func requeueStrandedTasks(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	cutoff := time.Now().Add(liveLeaseAhead).Unix()
	n := 0
	for _, q := range tasks.Queues {
		active, err := insp.ListActiveTasks(q, asynq.PageSize(100000))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue // a queue that never held a task, or lost with the old primary
		}
		if err != nil {
			return n, fmt.Errorf("list active tasks of queue %s: %w", q, err)
		}
		prefix := "asynq:{" + q + "}:"
		for _, t := range active {
			keys := []string{prefix + "active", prefix + "lease", prefix + "pending", prefix + "t:" + t.ID}
			moved, err := requeueStranded.Run(ctx, rdb, keys, t.ID, cutoff).Int()
			if err != nil {
				return n, fmt.Errorf("requeue stranded task %s: %w", t.ID, err)
			}
			n += moved
		}
	}
	return n, nil
}
