package pipeline

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// grantAll is a Limiter that always grants.
type grantAll struct{}

func (grantAll) Wait(context.Context, string) error                 { return nil }
func (grantAll) Block(context.Context, string, time.Duration) error { return nil }

// unconfiguredBundle is handlers on a real database, whose platform client
// knows no client at all and whose platform fails the test if asked
// anything: a task of an unknown client must not spend a request.
func unconfiguredBundle(t *testing.T, wait time.Duration) (*Handlers, *store.Store) {
	t.Helper()
	url := testenv.DatabaseURL(t)
	require.NoError(t, store.Migrate(t.Context(), url))
	st, err := store.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		t.Errorf("a request was sent: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(srv.Close)
	pc, err := platform.New(platform.Options{BaseURL: srv.URL, Limiter: grantAll{},
		Credentials: func(string) (platform.Credentials, bool) { return platform.Credentials{}, false }})
	require.NoError(t, err)
	return New(Options{Platform: pc, Store: st, UnconfiguredWait: wait}), st
}

// fetchTask is a page task of the run.
func fetchTask(t *testing.T, runID int64, clientID string) *asynq.Task {
	t.Helper()
	payload, err := json.Marshal(tasks.FetchPage{RunID: runID, ClientID: clientID, Page: 1, PageSize: 10})
	require.NoError(t, err)
	return asynq.NewTask(tasks.TypeFetchPage, payload)
}

// A task whose client this worker does not know goes back to the queue,
// not as a failure, while its run is young: the enqueuer knew the client,
// so this worker's configuration likely catches up. No request is spent.
func TestUnconfiguredClientWaitsInTheQueue(t *testing.T) {
	t.Parallel()
	h, st := unconfiguredBundle(t, time.Hour)
	run, err := st.CreateRun(t.Context(), "newcomer")
	require.NoError(t, err)
	task := fetchTask(t, run.ID, "newcomer")

	err = h.fetchPage(t.Context(), task)
	require.ErrorIs(t, err, platform.ErrUnknownClient)
	err = h.unconfigured(t.Context(), task, err)
	var rq *RequeueError
	require.ErrorAs(t, err, &rq)
	require.False(t, IsFailure(err), "not a failure: no retry is spent")
	require.Equal(t, maxUnconfiguredStep, rq.Delay)
	require.Contains(t, rq.Cause, "not configured on this worker")
}

// Past the wait, the task is a dead letter whose reason says the client is
// not configured on this worker.
func TestUnconfiguredClientIsADeadLetterAfterTheWait(t *testing.T) {
	t.Parallel()
	h, st := unconfiguredBundle(t, time.Millisecond)
	run, err := st.CreateRun(t.Context(), "stranger")
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond) // the run is older than the wait
	task := fetchTask(t, run.ID, "stranger")

	err = h.unconfigured(t.Context(), task, h.fetchPage(t.Context(), task))
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.True(t, IsFailure(err))
	require.Contains(t, reason(err), "client stranger is not configured on worker ")
	require.False(t, strings.HasSuffix(reason(err), asynq.SkipRetry.Error()))
}

// A task of a run that was cancelled when its client was removed is
// dropped: it succeeds without a request.
func TestTaskOfACancelledRunIsDropped(t *testing.T) {
	t.Parallel()
	h, st := unconfiguredBundle(t, time.Hour)
	run, err := st.CreateRun(t.Context(), "gone")
	require.NoError(t, err)
	_, err = st.CancelClientRuns(t.Context(), "gone", "client removed from the clients configuration")
	require.NoError(t, err)

	require.NoError(t, h.settling(h.fetchPage)(t.Context(), fetchTask(t, run.ID, "gone")))
}

// A task of a run that has ended otherwise, whose client this worker does
// not know, is dropped too: nothing of its run waits for it.
func TestUnconfiguredClientOfAnEndedRunIsDropped(t *testing.T) {
	t.Parallel()
	h, st := unconfiguredBundle(t, time.Hour)
	run, err := st.CreateRun(t.Context(), "ended")
	require.NoError(t, err)
	require.NoError(t, st.FailRun(t.Context(), run.ID, "page 1: failed"))
	task := fetchTask(t, run.ID, "ended")

	err = h.fetchPage(t.Context(), task)
	require.ErrorIs(t, err, platform.ErrUnknownClient)
	require.NoError(t, h.unconfigured(t.Context(), task, err))
}

// A client removed and put back while its cancelled run's tasks are still
// queued: the tasks find the client known again, yet their run was
// cancelled, so they are dropped without a request (the platform fails
// the test if asked anything) and the run stays cancelled.
func TestTasksOfACancelledRunAreDroppedWhenTheClientIsBack(t *testing.T) {
	t.Parallel()
	h, st := unconfiguredBundle(t, time.Hour)
	h.syncCall = true
	h.platform = knowingPlatform(t)
	run, err := st.CreateRun(t.Context(), "back")
	require.NoError(t, err)
	_, err = st.CancelClientRuns(t.Context(), "back", "client removed from the clients configuration")
	require.NoError(t, err)

	page := fetchTask(t, run.ID, "back")
	payload, err := json.Marshal(tasks.Save{RunID: run.ID, ClientID: "back", Page: 1, ItemKey: "campaign_1",
		Record: json.RawMessage(`{"id":"campaign_1","name":"A","status":"active","budget":1,"impressions":1,"clicks":1,` +
			`"conversions":1,"created_at":"2024-01-01T00:00:00Z"}`)})
	require.NoError(t, err)
	save := asynq.NewTask(tasks.TypeSave, payload)
	require.NoError(t, h.settling(h.fetchPage)(t.Context(), page))
	require.NoError(t, h.settling(h.save)(t.Context(), save))

	r, err := st.Run(t.Context(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCancelled, r.Status)
	require.Zero(t, r.CampaignsSaved)
	kept, err := st.Campaigns(t.Context(), "back")
	require.NoError(t, err)
	require.Empty(t, kept)
}

// knowingPlatform is a platform client that knows every client, against a
// platform that fails the test if asked anything.
func knowingPlatform(t *testing.T) *platform.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		t.Errorf("a request was sent: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(srv.Close)
	pc, err := platform.New(platform.Options{BaseURL: srv.URL, Limiter: grantAll{},
		Credentials: func(string) (platform.Credentials, bool) {
			return platform.Credentials{Email: "ads@example.test", Password: "pa55-Known-1"}, true
		}})
	require.NoError(t, err)
	return pc
}
