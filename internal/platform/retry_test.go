package platform

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// failingFirst serves a 503 to the first n requests, then hands over to
// next.
func failingFirst(n int64, next http.HandlerFunc) http.HandlerFunc {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			writeJSON(w, http.StatusServiceUnavailable, `{"error":"Service temporarily unavailable"}`)
			return
		}
		next(w, r)
	}
}

// retryInPlace sets up two in-place retries after short waits.
func retryInPlace(o *Options) {
	o.InPlaceRetries = 2
	o.InPlaceDelay = func(n int) time.Duration { return time.Duration(n+1) * 10 * time.Millisecond }
}

func TestTransientFailuresAreRetriedInPlace(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options, fp *fakePlatform) {
		retryInPlace(o)
		fp.list = failingFirst(2, fp.servePage)
	})

	page, err := b.client.ListCampaigns(t.Context(), testClient, 3, 10)
	require.NoError(t, err)
	require.Equal(t, 3, page.Pagination.Page)
	require.Equal(t, 3, b.platform.count("list"))
	require.Equal(t, int64(3), b.limiter.waits.Load(), "every retry passed through the limiter again")
	require.Equal(t, []Outcome{OutcomeTransient, OutcomeTransient, OutcomeOK}, b.observer.outcomes("list"))
}

func TestNoAnswerIsRetriedInPlace(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	b := setup(t, func(o *Options, fp *fakePlatform) {
		o.Timeout = 100 * time.Millisecond
		retryInPlace(o)
		fp.sync = func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				// The platform's hang: no answer at all. The body is read
				// first, or the server would not notice the client leave.
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
				return
			}
			fp.serveSync(w, r)
		}
	})

	res, err := b.client.SyncCampaign(t.Context(), testClient, "campaign_7")
	require.NoError(t, err)
	require.Equal(t, "campaign_7", res.CampaignID)
	require.Equal(t, []Outcome{OutcomeTransient, OutcomeOK}, b.observer.outcomes("sync"))
}

func TestInPlaceRetriesAreBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options, fp *fakePlatform) {
		retryInPlace(o)
		fp.list = failingFirst(3, fp.servePage)
	})

	_, err := b.client.ListCampaigns(t.Context(), testClient, 3, 10)
	require.EqualError(t, err, "platform: list campaigns page 3: status 503 (Service temporarily unavailable): transient")
	require.Equal(t, 3, b.platform.count("list"), "two retries in place, no loop: the rest belongs to the task layer")
	require.Equal(t, int64(3), b.limiter.waits.Load())
}

func TestOnlyTransientFailuresAreRetriedInPlace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		kind   Kind
	}{
		{http.StatusTooManyRequests, `{"error":"Rate limit exceeded","retry_after":60}`, KindRateLimited},
		{http.StatusBadRequest, `{"error":"Invalid page"}`, KindPermanent},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *Options, fp *fakePlatform) {
				retryInPlace(o)
				fp.list = func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, tc.status, tc.body) }
			})
			_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
			require.Equal(t, tc.kind, asError(t, err).Kind)
			require.Equal(t, 1, b.platform.count("list"))
		})
	}
}

// TestRetryWithoutBudgetReturnsTheFailure: when the limiter will not let the
// retry go soon, the caller gets the failure, counted as one by its retry
// policy, and not the limiter's "come back later", which would put the
// request back without counting it and, against a platform that keeps
// failing, never let it end in a dead letter.
func TestRetryWithoutBudgetReturnsTheFailure(t *testing.T) {
	t.Parallel()
	noBudget := errors.New("no budget for 40s")
	b := setup(t, func(o *Options, fp *fakePlatform) {
		retryInPlace(o)
		fp.list = failingFirst(1, fp.servePage)
	})
	b.limiter.waitErr, b.limiter.grantFirst = noBudget, 1

	_, err := b.client.ListCampaigns(t.Context(), testClient, 3, 10)
	require.NotErrorIs(t, err, noBudget)
	require.Equal(t, KindTransient, asError(t, err).Kind)
	require.Equal(t, http.StatusServiceUnavailable, asError(t, err).Status)
	require.Equal(t, 1, b.platform.count("list"))
	require.Equal(t, int64(2), b.limiter.waits.Load())
	require.Zero(t, asError(t, err).RetryAfter, "the refusal said nothing of when")
}

// A refusal that says when the retry's slot comes (ratelimit.NoBudgetError
// has RetryIn) passes that on in the failure's RetryAfter, so the caller's
// retry comes back for its slot.
func TestRetryWithoutBudgetSaysWhenItsSlotComes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options, fp *fakePlatform) {
		retryInPlace(o)
		fp.list = failingFirst(1, fp.servePage)
	})
	b.limiter.waitErr, b.limiter.grantFirst = slotIn(40*time.Second), 1

	_, err := b.client.ListCampaigns(t.Context(), testClient, 3, 10)
	require.Equal(t, KindTransient, asError(t, err).Kind)
	require.Equal(t, 40*time.Second, asError(t, err).RetryAfter)
	require.Contains(t, err.Error(), "retry after 40s")
}

// slotIn is a limiter's refusal that says when the caller's slot comes.
type slotIn time.Duration

func (s slotIn) Error() string          { return "no budget yet" }
func (s slotIn) RetryIn() time.Duration { return time.Duration(s) }

// Each in-place retry waits the delay the caller's policy gives for it,
// asked for retry 0, then retry 1.
func TestInPlaceRetriesWaitTheirDelays(t *testing.T) {
	t.Parallel()
	var asked []int
	b := setup(t, func(o *Options, fp *fakePlatform) {
		o.InPlaceRetries = 2
		o.InPlaceDelay = func(n int) time.Duration { asked = append(asked, n); return time.Millisecond }
		fp.list = failingFirst(2, fp.servePage)
	})

	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, asked)
}

func TestInPlaceRetriesNeedADelay(t *testing.T) {
	t.Parallel()
	_, err := New(Options{BaseURL: "http://127.0.0.1:3001", Limiter: &countingLimiter{}, InPlaceRetries: 1,
		Credentials: func(string) (Credentials, bool) { return Credentials{}, false }})
	require.EqualError(t, err, "platform: options: InPlaceRetries without InPlaceDelay")
}
