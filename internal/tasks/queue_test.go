package tasks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/testenv"
)

// A page's fan-out lands whole, one task per record with its derived id,
// and enqueueing it again (a retried page) adds nothing.
func TestEnqueueSavesFansOutOnce(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	q := NewQueue(asynq.NewClientFromRedisClient(rdb), 3, time.Minute)
	items := make([]store.Item, 100)
	for i := range items {
		key := fmt.Sprintf("campaign_%d", i+1)
		items[i] = store.Item{Key: key, Record: []byte(`{"id":"` + key + `"}`)}
	}
	ctx := context.Background()
	require.NoError(t, q.EnqueueSaves(ctx, 7, "acme", 1, items, nil))
	require.NoError(t, q.EnqueueSaves(ctx, 7, "acme", 1, items, nil))

	insp := asynq.NewInspectorFromRedisClient(rdb)
	info, err := insp.GetQueueInfo(QueueSaves)
	require.NoError(t, err)
	require.Equal(t, 100, info.Pending)
	task, err := insp.GetTaskInfo(QueueSaves, SaveID(7, "campaign_42"))
	require.NoError(t, err)
	p, err := DecodeSave(task.Payload)
	require.NoError(t, err)
	require.Equal(t, Save{RunID: 7, ClientID: "acme", Page: 1, ItemKey: "campaign_42", Record: items[41].Record}, p)
	require.Equal(t, 4, task.MaxRetry, "TASK_MAX_RETRY and the spare retry")
}

// A run's first page runs before the work that running runs have queued:
// a run that starts while others fan out hundreds of tasks does not wait
// behind them for its first request.
func TestFirstPageRunsBeforeQueuedWork(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	q := NewQueue(asynq.NewClientFromRedisClient(rdb), 3, time.Minute)
	ctx := context.Background()
	pages := make([]int, 100)
	items := make([]store.Item, 100)
	for i := range pages {
		pages[i] = i + 2
		items[i] = store.Item{Key: fmt.Sprintf("campaign_%d", i+1), Record: []byte(`{}`)}
	}
	require.NoError(t, q.EnqueuePages(ctx, 1, "busy", 10, pages))
	require.NoError(t, q.EnqueueSaves(ctx, 1, "busy", 1, items, nil))
	require.NoError(t, q.EnqueuePages(ctx, 2, "starting", 10, []int{1}))

	ran := make(chan string, 201)
	record := func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		ran <- id
		return nil
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeFetchPage, record)
	mux.HandleFunc(TypeSave, record)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: QueueWeights,
		TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.FatalLevel})
	require.NoError(t, srv.Start(mux))
	defer srv.Shutdown()
	for n := 1; ; n++ {
		select {
		case id := <-ran:
			if id == FetchPageID(2, 1) {
				// Polled first with probability 60/69 at each poll: after
				// five polls the odds against are 1 in 25,000.
				require.LessOrEqual(t, n, 5, "the first page ran after %d of 200 queued tasks", n-1)
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the first page never ran")
		}
	}
}
