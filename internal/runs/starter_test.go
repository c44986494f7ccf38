package runs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/runs"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

const pageSize = 10

// testBundle is a Starter on a Redis database and a PostgreSQL database of
// the test's own, with the handles a test inspects them through.
type testBundle struct {
	starter   *runs.Starter
	store     *store.Store
	queue     *tasks.Queue
	rdb       *redis.Client
	inspector *asynq.Inspector
	logs      *testenv.LogBuffer
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	require.NoError(t, store.Migrate(ctx, dbURL))
	st, err := store.Open(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	b := &testBundle{store: st, rdb: testenv.Redis(t), logs: &testenv.LogBuffer{}}
	b.inspector = asynq.NewInspectorFromRedisClient(b.rdb)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("starter log:\n%s", b.logs.String())
		}
	})
	b.starter, b.queue = b.newStarter()
	return b
}

// newStarter builds a Starter with an asynq client of its own, as a newly
// started enqueuer process has. Its fan-out books no slots: the work Resume
// enqueues is due at once, so that the test finds it among the pending
// tasks.
func (b *testBundle) newStarter() (*runs.Starter, *tasks.Queue) {
	queue := tasks.NewQueue(asynq.NewClientFromRedisClient(b.rdb), 3, time.Minute)
	return runs.NewStarter(b.store, queue, b.rdb, pageSize, fanout.New(queue, nil, true), slog.New(slog.NewTextHandler(b.logs, nil))), queue
}

// taskIDs lists the ids of the queue's tasks that are due now.
func (b *testBundle) taskIDs(t *testing.T, queues ...string) []string {
	t.Helper()
	var ids []string
	for _, q := range queues {
		infos, err := b.inspector.ListPendingTasks(q)
		if err != nil {
			require.ErrorIs(t, err, asynq.ErrQueueNotFound)
		}
		for _, info := range infos {
			ids = append(ids, info.ID)
		}
	}
	return ids
}

// fetchedFirstPage starts a run of the client and records its first page
// as a worker records it when fetched: n records, pages planned through
// through, total records in the listing. It returns the run's id.
func (b *testBundle) fetchedFirstPage(t *testing.T, clientID string, n, through, total int) int64 {
	t.Helper()
	started, err := b.starter.Start(context.Background(), []string{clientID})
	require.NoError(t, err)
	run := started[0].RunID
	_, err = b.store.RecordPage(context.Background(), store.FetchedPage{RunID: run, Page: 1, Items: items(1, n), PlanThrough: through, Total: total})
	require.NoError(t, err)
	return run
}

// items makes n records keyed campaign_<from>, campaign_<from+1>, ...
func items(from, n int) []store.Item {
	out := make([]store.Item, n)
	for i := range out {
		key := fmt.Sprintf("campaign_%d", from+i)
		out[i] = store.Item{Key: key, Record: []byte(fmt.Sprintf(`{"id":%q}`, key))}
	}
	return out
}

// Start records one running run per client and enqueues its first page,
// and nothing else: the worker that fetches page 1 plans the rest.
func TestStartStartsOneRunPerClientWithItsFirstPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	started, err := b.starter.Start(ctx, []string{"acme", "beta"})
	require.NoError(t, err)
	require.Len(t, started, 2)
	require.NotEqual(t, started[0].RunID, started[1].RunID)
	var want []string
	for i, client := range []string{"acme", "beta"} {
		s := started[i]
		require.Equal(t, client, s.ClientID)
		require.False(t, s.Skipped)
		run, err := b.store.Run(ctx, s.RunID)
		require.NoError(t, err)
		require.Equal(t, client, run.ClientID)
		require.Equal(t, store.StatusRunning, run.Status)

		id := tasks.FetchPageID(s.RunID, 1)
		want = append(want, id)
		info, err := b.inspector.GetTaskInfo(tasks.QueueStarts, id)
		require.NoError(t, err)
		require.Equal(t, tasks.TypeFetchPage, info.Type)
		var p tasks.FetchPage
		require.NoError(t, json.Unmarshal(info.Payload, &p))
		require.Equal(t, tasks.FetchPage{RunID: s.RunID, ClientID: client, Page: 1, PageSize: pageSize}, p)
	}
	require.ElementsMatch(t, want, b.taskIDs(t, tasks.PageQueues...))
	require.Empty(t, b.taskIDs(t, tasks.QueueSaves))
}

// A client whose run is still going is reported as skipped, with that run,
// and gets no second run and no second first page; the others start.
func TestStartSkipsAClientWithARunInProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first, err := b.starter.Start(ctx, []string{"acme"})
	require.NoError(t, err)

	started, err := b.starter.Start(ctx, []string{"acme", "beta"})
	require.NoError(t, err)
	require.Len(t, started, 2)
	require.Equal(t, runs.Started{ClientID: "acme", RunID: first[0].RunID, Skipped: true}, started[0])
	require.Equal(t, "beta", started[1].ClientID)
	require.False(t, started[1].Skipped)

	recent, err := b.store.RecentRuns(ctx, 10)
	require.NoError(t, err)
	require.Len(t, recent, 2, "one run per client")
	require.ElementsMatch(t, []string{tasks.FetchPageID(first[0].RunID, 1), tasks.FetchPageID(started[1].RunID, 1)},
		b.taskIDs(t, tasks.PageQueues...))
}

// Start resumes the running runs first when Redis lost its data since the
// last start (the epoch marker is gone with it), and only then.
func TestStartResumesRunningRunsAfterRedisLostItsData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Page 1 was fetched: it planned page 2 and holds three records whose
	// save tasks are not in Redis.
	run := b.fetchedFirstPage(t, "acme", 3, 2, 6)
	require.NoError(t, b.inspector.DeleteTask(tasks.QueueStarts, tasks.FetchPageID(run, 1)))

	// Redis kept its data: starting another client leaves acme's run alone.
	beta, err := b.starter.Start(ctx, []string{"beta"})
	require.NoError(t, err)
	require.Empty(t, b.taskIDs(t, tasks.QueueSaves))
	require.Equal(t, []string{tasks.FetchPageID(beta[0].RunID, 1)}, b.taskIDs(t, tasks.PageQueues...))

	// Redis lost everything: the next enqueuer's start first puts back the
	// running runs' work, beta's first page included, then starts gamma.
	require.NoError(t, b.rdb.FlushDB(ctx).Err())
	next, _ := b.newStarter()
	gamma, err := next.Start(ctx, []string{"gamma"})
	require.NoError(t, err)
	require.False(t, gamma[0].Skipped)
	require.ElementsMatch(t, []string{tasks.SaveID(run, "campaign_1"), tasks.SaveID(run, "campaign_2"), tasks.SaveID(run, "campaign_3")},
		b.taskIDs(t, tasks.QueueSaves))
	require.ElementsMatch(t, []string{tasks.FetchPageID(run, 2), tasks.FetchPageID(beta[0].RunID, 1), tasks.FetchPageID(gamma[0].RunID, 1)},
		b.taskIDs(t, tasks.PageQueues...))
}

// MarkEpoch reports a Redis that is new or lost its data: true the first
// time, false while the marker stays, true again after a flush.
func TestMarkEpochNoticesALostRedis(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for i, want := range []bool{true, false, false} {
		lost, err := b.starter.MarkEpoch(ctx)
		require.NoError(t, err)
		require.Equal(t, want, lost, "call %d", i+1)
	}
	require.NoError(t, b.rdb.FlushDB(ctx).Err())
	lost, err := b.starter.MarkEpoch(ctx)
	require.NoError(t, err)
	require.True(t, lost)
}

// Resume sorts a running run's unfinished work by where its tasks are: the
// pages and records whose tasks are gone are enqueued again, those still
// queued are left, and those asynq archived are recorded as dead letters.
// Run again, it finds nothing more to do.
func TestResumeEnqueuesLostWorkAndRecordsArchivedTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Page 1 planned pages 2 to 4 and holds three records.
	run := b.fetchedFirstPage(t, "acme", 3, 4, 12)
	require.NoError(t, b.inspector.DeleteTask(tasks.QueueStarts, tasks.FetchPageID(run, 1)))
	// Page 2 and campaign_1 are queued, page 4 and campaign_2 were
	// archived, page 3 and campaign_3 are gone.
	all := items(1, 3)
	require.NoError(t, b.queue.EnqueuePages(ctx, run, "acme", pageSize, []int{2, 4}))
	require.NoError(t, b.queue.EnqueueSaves(ctx, run, "acme", 1, all[:2], nil))
	require.NoError(t, b.inspector.ArchiveTask(tasks.QueuePages, tasks.FetchPageID(run, 4)))
	require.NoError(t, b.inspector.ArchiveTask(tasks.QueueSaves, tasks.SaveID(run, "campaign_2")))

	resumed, err := b.starter.Resume(ctx)
	require.NoError(t, err)
	require.Equal(t, []runs.Resumed{{RunID: run, ClientID: "acme", Pages: 1, Items: 1, Archived: 2}}, resumed)
	require.ElementsMatch(t, []string{tasks.FetchPageID(run, 2), tasks.FetchPageID(run, 3)}, b.taskIDs(t, tasks.PageQueues...))
	require.ElementsMatch(t, []string{tasks.SaveID(run, "campaign_1"), tasks.SaveID(run, "campaign_3")}, b.taskIDs(t, tasks.QueueSaves))
	info, err := b.inspector.GetTaskInfo(tasks.QueueSaves, tasks.SaveID(run, "campaign_3"))
	require.NoError(t, err)
	var save tasks.Save
	require.NoError(t, json.Unmarshal(info.Payload, &save))
	require.Equal(t, tasks.Save{RunID: run, ClientID: "acme", Page: 1, ItemKey: "campaign_3", Record: all[2].Record}, save)

	dead, err := b.store.DeadLetters(ctx, run)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	byWhat := map[string]store.StoredDeadLetter{}
	for _, d := range dead {
		byWhat[fmt.Sprintf("page %d item %q", d.Page, d.ItemKey)] = d
	}
	for _, what := range []string{`page 4 item ""`, `page 0 item "campaign_2"`} {
		d, ok := byWhat[what]
		require.True(t, ok, "dead letter for %s among %v", what, dead)
		require.Equal(t, "archived by asynq without a recorded error", d.Reason)
	}

	again, err := b.starter.Resume(ctx)
	require.NoError(t, err)
	require.Equal(t, []runs.Resumed{{RunID: run, ClientID: "acme"}}, again, "nothing left to put back")
}

// A task archived in a queue that asynq's index no longer lists (Redis lost
// its data, and the worker's long-lived client enqueued into the queue
// again without listing it) is still found archived and recorded.
func TestResumeFindsTasksInQueuesAsynqForgot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	run := b.fetchedFirstPage(t, "acme", 1, 1, 1)
	require.NoError(t, b.queue.EnqueueSaves(ctx, run, "acme", 1, items(1, 1), nil))
	require.NoError(t, b.inspector.ArchiveTask(tasks.QueueSaves, tasks.SaveID(run, "campaign_1")))
	require.NoError(t, b.rdb.Del(ctx, "asynq:queues").Err())

	resumed, err := b.starter.Resume(ctx)
	require.NoError(t, err)
	require.Equal(t, []runs.Resumed{{RunID: run, ClientID: "acme", Archived: 1}}, resumed)
	queues, err := b.inspector.Queues()
	require.NoError(t, err)
	require.ElementsMatch(t, tasks.Queues, queues, "asynqmon lists the queues again")
}

// Resume looks only at running runs: an ended run's leftovers stay as the
// ledger recorded them.
func TestResumeLeavesEndedRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	started, err := b.starter.Start(ctx, []string{"acme"})
	require.NoError(t, err)
	run := started[0].RunID
	require.NoError(t, b.store.FailRun(ctx, run, "test: failed"))
	require.NoError(t, b.rdb.FlushDB(ctx).Err())

	resumed, err := b.starter.Resume(ctx)
	require.NoError(t, err)
	require.Empty(t, resumed)
	require.Empty(t, b.taskIDs(t, tasks.PageQueues...))
}
