package worker

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// Of two tasks asynq holds as running, the one whose lease is no longer
// renewed (its end was lost with a dead primary) goes back to pending; the
// one a worker still renews stays running. Checked against asynq's real
// keys, so that an asynq upgrade that moves them fails here.
func TestStrandedTasksRequeuedLiveOnesLeft(t *testing.T) {
	rdb, _ := ownRedis(t)
	client := asynq.NewClientFromRedisClient(rdb)
	for _, id := range []string{"stranded", "running"} {
		_, err := client.Enqueue(asynq.NewTask("campaigns:save", nil), asynq.Queue(tasks.QueueSaves), asynq.TaskID(id))
		require.NoError(t, err)
	}
	release := make(chan struct{})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 2, Queues: map[string]int{tasks.QueueSaves: 1},
		LogLevel: asynq.FatalLevel, ShutdownTimeout: time.Second})
	require.NoError(t, srv.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})))
	t.Cleanup(func() { close(release); srv.Shutdown() })
	insp := asynq.NewInspectorFromRedisClient(rdb)
	testenv.WaitFor(t, 10*time.Second, "both tasks to run", func() bool {
		active, err := insp.ListActiveTasks(tasks.QueueSaves)
		return err == nil && len(active) == 2
	})
	// The stranded task's lease is as a dead primary left it: renewed last
	// a while ago.
	require.NoError(t, rdb.ZAdd(t.Context(), "asynq:{"+tasks.QueueSaves+"}:lease",
		redisZ(time.Now().Add(5*time.Second).Unix(), "stranded")).Err())

	n, err := requeueStrandedTasks(t.Context(), rdb)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	info, err := insp.GetTaskInfo(tasks.QueueSaves, "running")
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStateActive, info.State, "a task whose lease is renewed is left alone")
	info, err = insp.GetTaskInfo(tasks.QueueSaves, "stranded")
	require.NoError(t, err)
	require.NotEqual(t, asynq.TaskStateActive, info.State, "the stranded task is back in the queue (or already picked up again)")
}

func redisZ(score int64, member string) redis.Z {
	return redis.Z{Score: float64(score), Member: member}
}
