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
