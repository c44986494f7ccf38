package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// Each kind of failure gets its asynq outcome from classify: the single
// place where that policy lives.
func TestClassify(t *testing.T) {
	w := waits{lead: 100 * time.Millisecond, storeDown: 2 * time.Second}
	var rq *RequeueError

	err := classify(&ratelimit.NoBudgetError{ClientID: "c", Wait: time.Second, ComeBackIn: 800 * time.Millisecond}, "c", w)
	require.ErrorAs(t, err, &rq)
	require.Equal(t, 800*time.Millisecond, rq.Delay, "stays away as long as the limiter says")
	require.False(t, IsFailure(err))

	err = classify(&platform.Error{Kind: platform.KindRateLimited, RetryAfter: 2 * time.Second}, "c", w)
	require.ErrorAs(t, err, &rq)
	require.Equal(t, 1900*time.Millisecond, rq.Delay, "comes back lead early and waits the rest in place")

	err = classify(&platform.Error{Kind: platform.KindRateLimited, RetryAfter: 50 * time.Millisecond}, "c", w)
	require.ErrorAs(t, err, &rq)
	require.Zero(t, rq.Delay, "a wait shorter than the lead is no wait")

	for _, permanent := range []error{
		&campaign.InvalidError{Field: "budget", Reason: "is negative"},
		&platform.Error{Kind: platform.KindPermanent, Status: 400},
	} {
		err := classify(permanent, "c", w)
		require.ErrorIs(t, err, asynq.SkipRetry, "%v", permanent)
		require.True(t, IsFailure(err))
	}

	transient := &platform.Error{Kind: platform.KindTransient, Status: 503}
	require.Same(t, error(transient), classify(transient, "c", w))
	down := fmt.Errorf("store: save campaign: %w: dial tcp 127.0.0.1:5432: connect: connection refused", store.ErrUnavailable)
	err = classify(down, "c", w)
	require.ErrorAs(t, err, &rq)
	require.Equal(t, 2*time.Second, rq.Delay, "waits for the database")
	require.False(t, IsFailure(err), "a database outage spends no retry")

	other := errors.New("something unforeseen")
	require.Same(t, other, classify(other, "c", w), "unknown errors are retried, never dead-lettered at once")
}

// Failures back off exponentially from min, capped at max, with jitter
// that never halves the delay more than once; a requeue waits its delay.
func TestRetryDelay(t *testing.T) {
	min, max := 100*time.Millisecond, 10*time.Second
	for n, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		require.Equal(t, want/2, backoff(n, min, max, 0.5))
		require.Equal(t, want, backoff(n, min, max, 1))
	}
	require.Equal(t, max, backoff(20, min, max, 1))
	require.Equal(t, max, backoff(200, min, max, 1), "no overflow for huge retry counts")

	f := RetryDelay(min, max)
	for n := range 10 {
		d := f(n, errors.New("x"), nil)
		require.GreaterOrEqual(t, d, backoff(n, min, max, 0.5))
		require.Less(t, d, backoff(n, min, max, 1)+time.Nanosecond)
	}
	require.Equal(t, 3*time.Second, f(5, &RequeueError{Delay: 3 * time.Second}, nil))
}

// Once a task of the process found the database unavailable, save tasks go
// back to the queue before their sync call for a while: the record could
// not be stored, and the call would spend the client's rate budget. The
// handlers have no platform client here, so a sync call would fail the test.
func TestSaveSpendsNoRequestWhileTheDatabaseIsDown(t *testing.T) {
	h := New(Options{SyncCall: true, StoreDownWait: 3 * time.Second})
	record := `{"id":"campaign_1","name":"n","status":"active","budget":1.5,"impressions":1,"clicks":1,` +
		`"conversions":1,"created_at":"2025-01-02T03:04:05Z"}`
	payload, err := json.Marshal(tasks.Save{RunID: 1, ClientID: "c", Page: 1, ItemKey: "campaign_1", Record: json.RawMessage(record)})
	require.NoError(t, err)
	require.False(t, h.dbOutage.presumed())

	var rq *RequeueError
	down := fmt.Errorf("store: save: %w: connection refused", store.ErrUnavailable)
	require.ErrorAs(t, h.outcome(down, "c"), &rq)
	require.True(t, h.dbOutage.presumed(), "the outage is noted for the other tasks")

	err = h.save(t.Context(), asynq.NewTask(tasks.TypeSave, payload))
	require.ErrorAs(t, err, &rq)
	require.Equal(t, 3*time.Second, rq.Delay)
	require.False(t, IsFailure(err))
}

// A task that meets a database outage stays away StoreDownWait at first,
// then longer the longer the outage lasts (half its age, jittered, at most
// StoreDownMaxWait), so that a long outage does not cycle every queued task
// through the queue once per StoreDownWait. Once the database answers, or
// the outage has not been met for longer than the cap, the next one starts
// afresh.
func TestOutageWaitGrowsWithTheOutage(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	h := New(Options{StoreDownWait: time.Second, StoreDownMaxWait: time.Minute})
	h.dbOutage.now = func() time.Time { return clock }
	down := fmt.Errorf("store: save: %w: connection refused", store.ErrUnavailable)
	delay := func() time.Duration {
		t.Helper()
		var rq *RequeueError
		require.ErrorAs(t, h.outcome(down, "c"), &rq)
		return rq.Delay
	}

	require.Equal(t, time.Second, delay(), "at first")
	clock = clock.Add(10 * time.Second)
	d := delay()
	require.GreaterOrEqual(t, d, 2500*time.Millisecond, "ten seconds in: up to half of it, jittered")
	require.Less(t, d, 5*time.Second)
	for range 12 { // met again every 50 s, as tasks come back
		clock = clock.Add(50 * time.Second)
		d = delay()
	}
	require.Equal(t, time.Minute, d, "at most StoreDownMaxWait")

	h.dbOutage.over()
	require.Equal(t, time.Second, delay(), "the database answered: a new outage")

	clock = clock.Add(30 * time.Second)
	require.Greater(t, delay(), time.Second)
	clock = clock.Add(time.Minute + 2*time.Second)
	require.Equal(t, time.Second, delay(), "not met for longer than the cap: a new outage")
}
