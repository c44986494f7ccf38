package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// attempt is one run of a task as the asynq server saw it.
type attempt struct {
	retried int
	err     error
}

// attemptLog notes every attempt of the tasks an asynq server runs and
// what the handler returned, for the test bundles that watch a task's
// fate across retries.
type attemptLog struct {
	mu       sync.Mutex
	attempts []attempt
}

// record is the middleware that notes each attempt.
func (l *attemptLog) record(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := next.ProcessTask(ctx, t)
		retried, _ := asynq.GetRetryCount(ctx)
		l.mu.Lock()
		l.attempts = append(l.attempts, attempt{retried: retried, err: err})
		l.mu.Unlock()
		return err
	})
}

// all returns the attempts so far.
func (l *attemptLog) all() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]attempt(nil), l.attempts...)
}

// settleBundle is a worker's task execution on real Redis and PostgreSQL:
// an asynq server running the pipeline's registered handlers under the
// policy, against the mock platform, whose one client "acme" is down (every
// request answers 503). The handlers reach the database through a proxy
// that the test may cut; direct is the same database, not cut.
type settleBundle struct {
	policy Policy
	proxy  *cuttableProxy
	direct *store.Store
	queue  *tasks.Queue
	insp   *asynq.Inspector
	srv    *asynq.Server
	mux    *asynq.ServeMux
	attemptLog
}

func newSettleBundle(t *testing.T, maxRetry int) *settleBundle {
	t.Helper()
	cfg := config.Config{TaskMaxRetry: maxRetry, RetryBackoffMin: 20 * time.Millisecond, RetryBackoffMax: 100 * time.Millisecond,
		PlatformTimeout: time.Second, RateWaitInPlace: 100 * time.Millisecond}
	b := &settleBundle{policy: NewPolicy(cfg)}

	url := testenv.DatabaseURL(t)
	require.NoError(t, store.Migrate(t.Context(), url))
	var err error
	b.direct, err = store.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(b.direct.Close)
	b.proxy = newCuttableProxy(t, url)
	proxied, err := store.Open(t.Context(), b.proxy.url)
	require.NoError(t, err)
	t.Cleanup(proxied.Close)

	mc := mock.DefaultConfig()
	mc.TimeScale, mc.FailEvery, mc.HangPercent, mc.DownClients = 60, 0, 0, []string{"acme"}
	ms, err := mock.NewServer(mc)
	require.NoError(t, err)
	hs := httptest.NewServer(ms)
	t.Cleanup(func() { hs.Close(); ms.Close() })

	rdb := testenv.Redis(t)
	lim, err := ratelimit.New(rdb, ratelimit.Options{Limit: 1000, Window: time.Second})
	require.NoError(t, err)
	account := mc.Accounts[0]
	pc, err := platform.New(platform.Options{BaseURL: hs.URL, Limiter: lim,
		InPlaceRetries: b.policy.InPlaceRetries(), InPlaceDelay: b.policy.InPlaceDelay,
		Credentials: func(string) (platform.Credentials, bool) {
			return platform.Credentials{Email: account.Email, Password: account.Password}, true
		}})
	require.NoError(t, err)

	b.queue = tasks.NewQueue(asynq.NewClientFromRedisClient(rdb), b.policy.MaxRetry(), b.policy.TaskTimeout())
	h := New(Options{Platform: pc, Store: proxied, FanOut: fanout.New(b.queue, lim, false), Policy: b.policy, Logger: slog.New(slog.DiscardHandler)})
	b.mux = asynq.NewServeMux()
	b.mux.Use(b.record)
	h.Register(b.mux)
	b.insp = asynq.NewInspectorFromRedisClient(rdb)
	b.srv = newServer(rdb, b.policy)
	return b
}

// newServer is an asynq server configured as the worker configures its own
// (package worker), polling often.
func newServer(rdb redis.UniversalClient, p Policy) *asynq.Server {
	return asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: 2, Queues: tasks.QueueWeights,
		IsFailure: IsFailure, RetryDelayFunc: p.RetryDelay,
		DelayedTaskCheckInterval: 20 * time.Millisecond, TaskCheckInterval: 20 * time.Millisecond,
		LogLevel: asynq.FatalLevel,
	})
}

// start starts a run of acme with its first page's task, and the server.
func (b *settleBundle) start(t *testing.T) (runID int64, taskID string) {
	t.Helper()
	run, err := b.direct.CreateRun(t.Context(), "acme")
	require.NoError(t, err)
	require.NoError(t, b.queue.EnqueuePages(t.Context(), run.ID, "acme", 10, []int{1}))
	require.NoError(t, b.srv.Start(b.mux))
	t.Cleanup(b.srv.Shutdown)
	return run.ID, tasks.FetchPageID(run.ID, 1)
}

// A task that must wait for the database on the attempt its retry budget
// ends with goes back to the queue, as on any other attempt: the handler
// returns at once and the task comes back, again and again, never archived
// and never a dead letter, however long the outage lasts.
func TestRequeueOnTheLastAttemptGoesBackToTheQueue(t *testing.T) {
	t.Parallel()
	b := newSettleBundle(t, 1)
	// The first attempt fails on the platform (a counted failure); from the
	// second, the last TASK_MAX_RETRY allows, the database is down.
	b.mux.Use(func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			if retried, _ := asynq.GetRetryCount(ctx); retried >= b.policy.MaxRetry() {
				b.proxy.cut()
			}
			return next.ProcessTask(ctx, t)
		})
	})
	runID, taskID := b.start(t)

	testenv.WaitFor(t, time.Minute, "three attempts on the last retry count", func() bool {
		n := 0
		for _, a := range b.all() {
			if a.retried == b.policy.MaxRetry() {
				n++
			}
		}
		return n >= 3
	})
	b.srv.Shutdown()

	attempts := b.all()
	require.Zero(t, attempts[0].retried)
	var pe *platform.Error
	require.ErrorAs(t, attempts[0].err, &pe, "the first attempt failed on the platform")
	require.Equal(t, platform.KindTransient, pe.Kind)
	for _, a := range attempts[1:] {
		require.Equal(t, b.policy.MaxRetry(), a.retried, "a requeue spends no retry")
		var rq *RequeueError
		require.ErrorAs(t, a.err, &rq, "the handler sent the task back instead of waiting in its slot")
		require.ErrorContains(t, a.err, "unavailable")
	}

	info, err := b.insp.GetTaskInfo(tasks.QueueStarts, taskID)
	require.NoError(t, err)
	require.Contains(t, []asynq.TaskState{asynq.TaskStateRetry, asynq.TaskStatePending}, info.State,
		"back in the queue, not archived: %s", info.State)
	require.Equal(t, b.policy.MaxRetry(), info.Retried)
	require.Equal(t, b.policy.MaxRetry()+1, info.MaxRetry, "the spare retry")
	dead, err := b.direct.DeadLetters(t.Context(), runID)
	require.NoError(t, err)
	require.Empty(t, dead)
}

// A task that fails TASK_MAX_RETRY+1 times (the first run and its
// retries) is recorded as a dead letter in the ledger by its handler, which
// ends its run, and only then archived by asynq.
func TestTaskFailingEveryRetryIsDeadLetteredThenArchived(t *testing.T) {
	t.Parallel()
	b := newSettleBundle(t, 2)
	runID, taskID := b.start(t)

	var info *asynq.TaskInfo
	testenv.WaitFor(t, time.Minute, "the task to be archived", func() bool {
		var err error
		info, err = b.insp.GetTaskInfo(tasks.QueueStarts, taskID)
		require.NoError(t, err)
		return info.State == asynq.TaskStateArchived
	})
	require.Equal(t, b.policy.MaxRetry(), info.Retried, "the spare retry was not spent")
	require.Contains(t, info.LastErr, "status 503")

	attempts := b.all()
	require.Len(t, attempts, b.policy.MaxRetry()+1)
	for i, a := range attempts {
		require.Equal(t, i, a.retried)
		require.Equal(t, i == b.policy.MaxRetry(), errors.Is(a.err, asynq.SkipRetry), "attempt %d: %v", i, a.err)
	}

	dead, err := b.direct.DeadLetters(t.Context(), runID)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, taskID, dead[0].TaskID)
	require.Equal(t, 1, dead[0].Page)
	require.Contains(t, dead[0].Reason, "status 503")
	require.NotContains(t, dead[0].Reason, asynq.SkipRetry.Error())
	run, err := b.direct.Run(t.Context(), runID)
	require.NoError(t, err)
	require.True(t, run.Finished(), "the dead letter ended the run: %s", run.Status)
}
