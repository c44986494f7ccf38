package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// testPolicy is the policy of a deployment with the given retry budget and
// backoff bounds.
func testPolicy(maxRetry int, backoffMin, backoffMax time.Duration) Policy {
	return NewPolicy(config.Config{TaskMaxRetry: maxRetry, RetryBackoffMin: backoffMin, RetryBackoffMax: backoffMax,
		PlatformTimeout: 10 * time.Second, RateWaitInPlace: 2 * time.Second})
}

// testClock is a clock.Clock that a test moves by hand.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

// Every kind of error gets its outcome from decide, the one place where
// that policy lives, on any attempt and on the last one.
func TestDecide(t *testing.T) {
	p := testPolicy(3, time.Second, time.Minute)
	down := fmt.Errorf("store: save campaign: %w: dial tcp 127.0.0.1:5432: connect: connection refused", store.ErrUnavailable)
	for _, tc := range []struct {
		name  string
		err   error
		want  verdict
		delay time.Duration // of a requeue
	}{
		{"no rate budget", fmt.Errorf("platform: wait: %w",
			&ratelimit.NoBudgetError{ClientID: "c", Wait: time.Second, ComeBackIn: 800 * time.Millisecond}), requeue, 800 * time.Millisecond},
		{"429: back at once, the limiter holds the client off", &platform.Error{Kind: platform.KindRateLimited, RetryAfter: 2 * time.Second},
			requeue, 0},
		{"database unavailable", down, requeue, time.Second},
		{"an explicit requeue", &RequeueError{ClientID: "c", Delay: 5 * time.Second, Cause: "not configured"}, requeue, 5 * time.Second},
		{"invalid record", fmt.Errorf("save: %w", &campaign.InvalidError{Field: "budget", Reason: "is negative"}), deadLetter, 0},
		{"permanent platform error", fmt.Errorf("fetch page 2: %w", &platform.Error{Kind: platform.KindPermanent, Status: 400}), deadLetter, 0},
		{"unknown client past its wait", fmt.Errorf("client x is not configured: %w", asynq.SkipRetry), deadLetter, 0},
		{"run gone", fmt.Errorf("record page: %w", store.ErrRunNotFound), deadLetter, 0},
		{"transient platform error", &platform.Error{Kind: platform.KindTransient, Status: 503}, retry, 0},
		{"task deadline", fmt.Errorf("sync campaign c1: %w", context.DeadlineExceeded), retry, 0},
		{"unknown error", errors.New("something unforeseen"), retry, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for retried := range p.MaxRetry() {
				d := p.decide(tc.err, retried, 0)
				require.Equal(t, tc.want, d.verdict, "after %d failures", retried)
				require.Equal(t, tc.delay, d.delay)
			}
			last := p.decide(tc.err, p.MaxRetry(), 0)
			if tc.want == retry {
				require.Equal(t, deadLetter, last.verdict, "a failure after TASK_MAX_RETRY of them is a dead letter, never lost")
			} else {
				require.Equal(t, tc.want, last.verdict, "the last attempt decides like any other")
				require.Equal(t, tc.delay, last.delay)
			}
		})
	}
}

// A requeue is not a failure; everything else is.
func TestIsFailure(t *testing.T) {
	require.False(t, IsFailure(fmt.Errorf("x: %w", &RequeueError{ClientID: "c"})))
	require.True(t, IsFailure(errors.New("boom")))
	require.True(t, IsFailure(fmt.Errorf("bad: %w", asynq.SkipRetry)))
}

// Failures back off exponentially from RETRY_BACKOFF_MIN, capped at
// RETRY_BACKOFF_MAX, jittered over half to all of it; a requeue waits
// exactly its delay.
func TestRetryDelay(t *testing.T) {
	p := testPolicy(10, 100*time.Millisecond, 10*time.Second)
	for n, nominal := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond} {
		for range 100 {
			d := p.RetryDelay(n, errors.New("x"), nil)
			require.GreaterOrEqual(t, d, nominal/2)
			require.LessOrEqual(t, d, nominal)
		}
	}
	for _, n := range []int{20, 200} { // no overflow for huge retry counts
		require.GreaterOrEqual(t, p.RetryDelay(n, errors.New("x"), nil), 5*time.Second)
		require.LessOrEqual(t, p.RetryDelay(n, errors.New("x"), nil), 10*time.Second)
	}
	require.Equal(t, 3*time.Second, p.RetryDelay(5, &RequeueError{Delay: 3 * time.Second}, nil))
	require.Zero(t, p.RetryDelay(5, &RequeueError{}, nil), "a 429's requeue comes back at once")
	slotLater := &platform.Error{Kind: platform.KindTransient, Op: "sync campaign c1", Status: 503, RetryAfter: 7 * time.Second}
	require.Equal(t, 7*time.Second, p.RetryDelay(0, slotLater, nil), "not before the slot booked for the retry")
	slotLater.RetryAfter = time.Millisecond
	require.GreaterOrEqual(t, p.RetryDelay(0, slotLater, nil), 50*time.Millisecond, "nor before the backoff")
}

// The platform client's in-place retries follow the tasks' backoff curve.
func TestInPlaceRetries(t *testing.T) {
	p := testPolicy(10, time.Second, time.Minute)
	require.Equal(t, 2, p.InPlaceRetries())
	for range 100 {
		d0, d1 := p.InPlaceDelay(0), p.InPlaceDelay(1)
		require.True(t, d0 >= 500*time.Millisecond && d0 <= time.Second, "first retry: %s", d0)
		require.True(t, d1 >= time.Second && d1 <= 2*time.Second, "second retry: %s", d1)
	}
}

// The task timeout covers every request a run of a task may make, each up
// to PLATFORM_TIMEOUT, an in-place rate-limit wait before each, the
// in-place retries' waits and the database write; it moves with each.
func TestTaskTimeout(t *testing.T) {
	cfg := config.Config{PlatformTimeout: 10 * time.Second, RateWaitInPlace: 2 * time.Second,
		RetryBackoffMin: time.Second, RetryBackoffMax: time.Minute}
	// 6 requests or token fetches of 10 s, 4 counted waits of 2 s, the
	// in-place retries' 1 s and 2 s, 30 s for the database.
	require.Equal(t, 101*time.Second, NewPolicy(cfg).TaskTimeout())
	cfg.PlatformTimeout += time.Second
	require.Equal(t, 107*time.Second, NewPolicy(cfg).TaskTimeout())
	cfg.RateWaitInPlace += time.Second
	require.Equal(t, 111*time.Second, NewPolicy(cfg).TaskTimeout())
	cfg.RetryBackoffMin += time.Second
	require.Equal(t, 114*time.Second, NewPolicy(cfg).TaskTimeout())
}

func TestJitterSpreadsHalfToAll(t *testing.T) {
	const d = 100 * time.Millisecond
	seen := map[bool]bool{}
	for range 1000 {
		j := jitter(d)
		require.GreaterOrEqual(t, j, d/2)
		require.LessOrEqual(t, j, d)
		seen[j < 3*d/4] = true
	}
	require.Len(t, seen, 2, "spread over the range, not one end of it")
	require.Zero(t, jitter(0))
}

// Once a task of the process found the database unavailable, save tasks go
// back to the queue before their sync call for a while, without
// prolonging that while: the record could not be stored, and the call
// would spend the client's rate budget. The handlers have no platform
// client here, so a sync call would fail the test.
func TestSaveSpendsNoRequestWhileTheDatabaseIsDown(t *testing.T) {
	clk := &testClock{now: time.Unix(1_800_000_000, 0)}
	h := New(Options{SyncCall: true, Policy: testPolicy(3, 3*time.Second, time.Minute)})
	h.dbOutage.clock = clk
	record := `{"id":"campaign_1","name":"n","status":"active","budget":1.5,"impressions":1,"clicks":1,` +
		`"conversions":1,"created_at":"2025-01-02T03:04:05Z"}`
	payload, err := json.Marshal(tasks.Save{RunID: 1, ClientID: "c", Page: 1, ItemKey: "campaign_1", Record: json.RawMessage(record)})
	require.NoError(t, err)
	require.False(t, h.dbOutage.presumed())

	down := fmt.Errorf("store: save: %w: connection refused", store.ErrUnavailable)
	require.Equal(t, requeue, h.decide(down, 0).verdict)
	require.True(t, h.dbOutage.presumed(), "the outage is noted for the other tasks")

	clk.now = clk.now.Add(2 * time.Second)
	err = h.save(t.Context(), asynq.NewTask(tasks.TypeSave, payload))
	require.ErrorIs(t, err, store.ErrUnavailable)
	d := h.decide(err, 3)
	require.Equal(t, requeue, d.verdict, "even on the last attempt")
	require.Equal(t, 3*time.Second, d.delay)
	clk.now = clk.now.Add(time.Second + time.Nanosecond)
	require.False(t, h.dbOutage.presumed(), "a task sent back on the presumption did not prolong it")
}

// A task that meets a database outage stays away RETRY_BACKOFF_MIN at
// first, then longer the longer the outage lasts (half its age, jittered,
// at most RETRY_BACKOFF_MAX), so that a long outage does not cycle every
// queued task through the queue once per RETRY_BACKOFF_MIN. Once the
// database answers, or the outage has not been met for longer than the
// cap, the next one starts afresh.
func TestOutageWaitGrowsWithTheOutage(t *testing.T) {
	clk := &testClock{now: time.Unix(1_800_000_000, 0)}
	h := New(Options{Policy: testPolicy(3, time.Second, time.Minute)})
	h.dbOutage.clock = clk
	down := fmt.Errorf("store: save: %w: connection refused", store.ErrUnavailable)
	delay := func() time.Duration {
		t.Helper()
		d := h.decide(down, 0)
		require.Equal(t, requeue, d.verdict)
		return d.delay
	}

	require.Equal(t, time.Second, delay(), "at first")
	clk.now = clk.now.Add(10 * time.Second)
	d := delay()
	require.GreaterOrEqual(t, d, 2500*time.Millisecond, "ten seconds in: up to half of it, jittered")
	require.LessOrEqual(t, d, 5*time.Second)
	for range 12 { // met again every 50 s, as tasks come back
		clk.now = clk.now.Add(50 * time.Second)
		d = delay()
	}
	require.Equal(t, time.Minute, d, "at most RETRY_BACKOFF_MAX")

	h.dbOutage.over()
	require.Equal(t, time.Second, delay(), "the database answered: a new outage")

	clk.now = clk.now.Add(30 * time.Second)
	require.Greater(t, delay(), time.Second)
	clk.now = clk.now.Add(time.Minute + 2*time.Second)
	require.Equal(t, time.Second, delay(), "not met for longer than the cap: a new outage")
}
