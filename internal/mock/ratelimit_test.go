package mock

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// limited is a quiet config with the given limit per 60 s window.
func limited(limit int) Config {
	cfg := quietConfig()
	cfg.RateLimit = limit
	return cfg
}

// retryAfterOf decodes a 429 answer and returns retry_after as sent.
func retryAfterOf(t *testing.T, a answer) json.Number {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, a.status, "body: %s", a.body)
	var body struct {
		Error      string      `json:"error"`
		Message    string      `json:"message"`
		RetryAfter json.Number `json:"retry_after"`
	}
	a.decode(t, &body)
	require.Equal(t, "Rate limit exceeded", body.Error)
	require.NotEmpty(t, body.Message)
	return body.RetryAfter
}

func TestSlidingWindowBoundaries(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := setup(t, limited(3), clock)
	tok := b.token(t, "")
	t0 := clock.now()
	at := func(d time.Duration) answer {
		clock.advance(t0.Add(d).Sub(clock.now()))
		return b.list(t, "", tok, "")
	}

	require.Equal(t, http.StatusOK, at(0).status)
	require.Equal(t, http.StatusOK, at(10*time.Second).status)
	require.Equal(t, http.StatusOK, at(20*time.Second).status)
	// The 4th inside (t-60s, t] is refused until the oldest (t0) leaves.
	require.Equal(t, "30", retryAfterOf(t, at(30*time.Second)).String())
	require.Equal(t, "1", retryAfterOf(t, at(time.Minute-time.Nanosecond)).String(), "just before t0+W: refused, wait rounded up")
	require.Equal(t, http.StatusOK, at(time.Minute).status, "exactly at t0+W the oldest has left")
	// Window now holds 10 s, 20 s, 60 s: the next slot opens at 70 s.
	require.Equal(t, "1", retryAfterOf(t, at(69500*time.Millisecond)).String())
	require.Equal(t, http.StatusOK, at(70*time.Second).status)

	st := b.srv.Stats().Clients[defaultClientID]
	require.EqualValues(t, 5, st.Counted)
	require.EqualValues(t, 3, st.RateLimited)
	require.EqualValues(t, 6, st.MaxInWindow, "arrivals at 10,20,30,60-ε,60,69.5 s share one window")
	require.Equal(t, 10*time.Second+time.Nanosecond, st.TightestSpan, "70 s is the 3rd arrival after 60 s - ε")
	require.EqualValues(t, 5, st.Requests[EndpointList]["200"])
	require.EqualValues(t, 3, st.Requests[EndpointList]["429"])
	require.True(t, st.FirstArrival.Equal(t0))
	require.True(t, st.LastArrival.Equal(t0.Add(70*time.Second)))
}

func TestRefusedRequestsDoNotEnterTheWindow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := setup(t, limited(2), clock)
	tok := b.token(t, "")
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	for range 50 {
		clock.advance(time.Second)
		require.Equal(t, http.StatusTooManyRequests, b.list(t, "", tok, "").status)
	}
	clock.advance(10 * time.Second) // t0 + 60 s
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status, "refusals never delay the next slot")
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusTooManyRequests, b.list(t, "", tok, "").status)
}

// TestLimiterMatchesTheDefinition replays random arrival sequences against
// the sliding-window definition computed by brute force.
func TestLimiterMatchesTheDefinition(t *testing.T) {
	t.Parallel()
	const window = 60 * time.Second
	for seed := range uint64(4) {
		clock := newFakeClock()
		limit := 1 + int(seed)*3
		cfg := limited(limit)
		cfg.TokenTTL = 1000 * time.Hour // the sequences span hours
		b := setup(t, cfg, clock)
		tok := b.token(t, "")
		r := rand.New(rand.NewPCG(seed, 99))

		var times []time.Duration // arrival offsets
		var admitted []bool
		var now time.Duration
		maxIn := 0
		for i := range 150 {
			// Bursts (several at one instant), steps near the limit's pace,
			// and long gaps.
			switch r.IntN(4) {
			case 0:
			case 1:
				now += time.Duration(r.IntN(3)) * window / time.Duration(limit)
			default:
				now += time.Duration(r.Int64N(int64(2 * window / time.Duration(limit))))
			}
			clock.advance(now - elapsed(clock, b))
			in, all := 0, 0
			oldest := time.Duration(-1) // oldest admitted arrival in the window
			for j := range i {
				if times[j] > now-window {
					all++
					if admitted[j] {
						in++
						if oldest < 0 {
							oldest = times[j]
						}
					}
				}
			}
			maxIn = max(maxIn, all+1)
			want := in < limit
			a := b.list(t, "", tok, "")
			if want {
				require.Equal(t, http.StatusOK, a.status, "seed %d arrival %d at %s: %d admitted in window", seed, i, now, in)
			} else {
				wait := oldest + window - now
				seconds := int((wait + time.Second - 1) / time.Second) // rounded up
				require.Equal(t, strconv.Itoa(seconds), retryAfterOf(t, a).String(), "seed %d arrival %d", seed, i)
			}
			times = append(times, now)
			admitted = append(admitted, want)
		}
		tightest := time.Duration(-1)
		for j := limit; j < len(times); j++ {
			if span := times[j] - times[j-limit]; tightest < 0 || span < tightest {
				tightest = span
			}
		}
		st := b.srv.Stats().Clients[defaultClientID]
		require.EqualValues(t, maxIn, st.MaxInWindow, "seed %d", seed)
		require.Equal(t, tightest, st.TightestSpan, "seed %d", seed)
	}
}

// elapsed is how far the fake clock moved since the server started.
func elapsed(clock *fakeClock, b *bundle) time.Duration {
	return clock.now().Sub(b.srv.epoch)
}

func TestRetryAfterUnderTimeScale(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cfg := limited(1)
	cfg.TimeScale = 60 // window 1 s
	b := setup(t, cfg, clock)
	tok := b.token(t, "")
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)

	clock.advance(499 * time.Millisecond) // 0.501 s left = 30.06 s of platform time, rounded up to 31 s
	require.Equal(t, "0.517", retryAfterOf(t, b.list(t, "", tok, "")).String(), "31/60 s, rounded up to the ms")

	clock.advance(time.Millisecond) // 0.5 s real left = 30 s of platform time
	require.Equal(t, "0.5", retryAfterOf(t, b.list(t, "", tok, "")).String())

	clock.advance(500 * time.Millisecond)
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
}

func TestRetryAfterHeaderOnlyWhenAskedFor(t *testing.T) {
	t.Parallel()
	for _, header := range []bool{false, true} {
		clock := newFakeClock()
		cfg := limited(1)
		cfg.RetryAfterHeader = header
		b := setup(t, cfg, clock)
		tok := b.token(t, "")
		b.list(t, "", tok, "")
		clock.advance(15 * time.Second)
		a := b.list(t, "", tok, "")
		require.Equal(t, "45", retryAfterOf(t, a).String())
		if header {
			require.Equal(t, "45", a.header.Get("Retry-After"))
		} else {
			require.Empty(t, a.header.Values("Retry-After"), "the reference sends the wait only in the body")
		}
	}

	// A fractional wait rounds the header up to a whole second.
	clock := newFakeClock()
	cfg := limited(1)
	cfg.RetryAfterHeader, cfg.TimeScale = true, 60
	b := setup(t, cfg, clock)
	tok := b.token(t, "")
	b.list(t, "", tok, "")
	a := b.list(t, "", tok, "")
	require.Equal(t, "1", retryAfterOf(t, a).String())
	require.Equal(t, "1", a.header.Get("Retry-After"))
	clock.advance(900 * time.Millisecond)
	a = b.list(t, "", tok, "")
	require.Equal(t, "0.1", retryAfterOf(t, a).String())
	require.Equal(t, "1", a.header.Get("Retry-After"))
}

func TestClientsHaveSeparateWindows(t *testing.T) {
	t.Parallel()
	b := setup(t, limited(2), newFakeClock())
	tok := b.token(t, "")
	clients := []string{"", "acme", "zeta", "default-ish", "ACME"}
	for round := range 3 {
		for _, id := range clients {
			want := http.StatusOK
			if round == 2 {
				want = http.StatusTooManyRequests
			}
			require.Equal(t, want, b.list(t, id, tok, "").status, "client %q round %d", id, round)
		}
	}
	st := b.srv.Stats()
	require.Len(t, st.Clients, len(clients))
	require.Contains(t, st.Clients, defaultClientID, "no X-Client-ID means default")
	for id, cs := range st.Clients {
		require.EqualValues(t, 2, cs.Counted, id)
		require.EqualValues(t, 1, cs.RateLimited, id)
	}
}

func TestConcurrentArrivalsNeverExceedTheLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, limited(10), nil) // real clock, 60 s window
	tok := b.token(t, "")
	const clients, perClient = 8, 40

	statuses := make(map[string]map[int]int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for c := range clients {
		statuses["burst-"+strconv.Itoa(c)] = map[int]int{}
	}
	for c := range clients {
		id := "burst-" + strconv.Itoa(c)
		for range perClient {
			wg.Go(func() {
				a, err := b.doCtx(context.Background(), http.MethodGet, "/api/campaigns", headers{
					"Authorization": "Bearer " + tok, "X-Client-ID": id,
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				statuses[id][a.status]++
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := b.srv.Stats()
	for id, got := range statuses {
		require.Equal(t, map[int]int{http.StatusOK: 10, http.StatusTooManyRequests: perClient - 10}, got, id)
		cs := st.Clients[id]
		require.EqualValues(t, 10, cs.Counted, id)
		require.EqualValues(t, perClient-10, cs.RateLimited, id)
		require.EqualValues(t, perClient, cs.MaxInWindow, id)
	}
}

func TestOnlyAPIRequestsCount(t *testing.T) {
	t.Parallel()
	cfg := limited(3)
	cfg.FailEvery = 1 // every list request answers 503, and still counts
	b := setup(t, cfg, newFakeClock())
	tok := b.token(t, "")
	for range 5 {
		b.token(t, "")
		checkAnswer(t, b.do(t, http.MethodGet, "/health", nil))
		checkAnswer(t, b.do(t, http.MethodGet, "/__mock/stats", nil))
		checkAnswer(t, b.do(t, http.MethodGet, "/__mock/faults", nil))
	}
	require.Equal(t, http.StatusServiceUnavailable, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusUnauthorized, b.list(t, "", "bad", "").status, "a 401 counts")
	require.Equal(t, http.StatusOK, b.api(t, http.MethodPost, "/api/campaigns/campaign_1/sync", "", tok).status)
	require.Equal(t, http.StatusTooManyRequests, b.api(t, http.MethodPost, "/api/campaigns/campaign_1/sync", "", tok).status)

	st := b.srv.Stats().Clients[defaultClientID]
	require.EqualValues(t, 3, st.Counted)
	require.EqualValues(t, 6, st.Requests[EndpointAuth]["200"])
	require.Equal(t, map[string]int64{"503": 1, "401": 1}, st.Requests[EndpointList])
	require.Equal(t, map[string]int64{"200": 1, "429": 1}, st.Requests[EndpointSync])
}

func TestHungRequestsCount(t *testing.T) {
	t.Parallel()
	b := setup(t, limited(1), newFakeClock())
	tok := b.token(t, "")
	require.NoError(t, b.srv.SetFaults(Faults{HangAll: true}))
	ctx, cancel := context.WithCancel(context.Background())
	done := b.hangingRequest(t, ctx, http.MethodGet, "/api/campaigns", "", tok)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	waitFor(t, "the hung request to end", func() bool { return b.srv.waiting.Load() == 0 })

	require.NoError(t, b.srv.SetFaults(Faults{}))
	require.Equal(t, http.StatusTooManyRequests, b.list(t, "", tok, "").status)
}

func TestRateLimitZeroDisablesLimiting(t *testing.T) {
	t.Parallel()
	b := setup(t, limited(0), newFakeClock())
	tok := b.token(t, "")
	for range 100 {
		require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	}
	st := b.srv.Stats().Clients[defaultClientID]
	require.EqualValues(t, 100, st.Counted)
	require.EqualValues(t, 100, st.MaxInWindow)
	require.Zero(t, st.RateLimited)
	require.Zero(t, st.TightestSpan, "without a limit there is no span to measure")
}
