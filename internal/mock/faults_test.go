package mock

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestEveryFifthListRequestAnswers503AcrossClients(t *testing.T) {
	t.Parallel()
	cfg := limited(8)
	cfg.FailEvery = 5
	b := setup(t, cfg, newFakeClock()) // time stands still: one window
	tok := b.token(t, "")
	// "refused" fills its window with sync calls, which never move the
	// counter, so its list requests below are refused.
	for range 8 {
		require.Equal(t, http.StatusOK, b.api(t, http.MethodPost, "/api/campaigns/campaign_1/sync", "refused", tok).status)
	}
	clients := []string{"a", "b", "c"}
	for i := 1; i <= 21; i++ {
		a := b.list(t, clients[i%len(clients)], tok, "")
		if i%5 == 0 {
			require.Equal(t, http.StatusServiceUnavailable, a.status, "request %d", i)
			require.Equal(t, "Service temporarily unavailable", a.apiErr(t).Error)
		} else {
			require.Equal(t, http.StatusOK, a.status, "request %d", i)
		}
		// Neither sync calls nor refused or unauthorized requests move the
		// counter.
		id := "other-" + strconv.Itoa(i)
		require.Equal(t, http.StatusOK, b.api(t, http.MethodPost, "/api/campaigns/campaign_1/sync", id, tok).status)
		require.Equal(t, http.StatusUnauthorized, b.list(t, id, "bad-token", "").status)
		require.Equal(t, http.StatusTooManyRequests, b.list(t, "refused", tok, "").status)
	}
}

func TestResetRestartsThe503Count(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.FailEvery = 3
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	checkAnswer(t, b.do(t, http.MethodPost, "/__mock/reset", nil))
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusServiceUnavailable, b.list(t, "", tok, "").status)
}

func TestDownClientsGet503ForEverything(t *testing.T) {
	t.Parallel()
	cfg := limited(10)
	cfg.DownClients = []string{"down"}
	b := setup(t, cfg, newFakeClock())
	tok := b.token(t, "up")

	a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic(refEmail, refPassword), "X-Client-ID": "down"})
	checkAnswer(t, a)
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.Equal(t, "Service temporarily unavailable", a.apiErr(t).Error)
	for range 12 {
		require.Equal(t, http.StatusServiceUnavailable, b.list(t, "down", tok, "").status)
		require.Equal(t, http.StatusServiceUnavailable, b.api(t, http.MethodPost, "/api/campaigns/campaign_1/sync", "down", tok).status)
	}
	require.Equal(t, http.StatusOK, b.list(t, "up", tok, "").status)

	st := b.srv.Stats().Clients["down"]
	require.Equal(t, map[string]int64{"503": 1}, st.Requests[EndpointAuth])
	require.Equal(t, map[string]int64{"503": 12}, st.Requests[EndpointList])
	require.Zero(t, st.Counted, "a down client's requests never reach the limiter")
	require.EqualValues(t, 24, st.MaxInWindow, "but they are arrivals")
}

func TestFaultsChangeAtRunTime(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	tok := b.token(t, "")

	a := b.do(t, http.MethodGet, "/__mock/faults", nil)
	checkAnswer(t, a)
	require.JSONEq(t, `{"down_all":false,"hang_all":false,"down_clients":[],"hang_percent":0,"fail_every":0,"hang_next":0}`, string(a.body))

	set := func(body string) answer {
		req, err := http.NewRequest(http.MethodPost, b.ts.URL+"/__mock/faults", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := b.ts.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var got answer
		got.status, got.header = resp.StatusCode, resp.Header
		got.body, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
		checkAnswer(t, got)
		return got
	}

	a = set(`{"down_all":true}`)
	require.Equal(t, http.StatusOK, a.status)
	require.JSONEq(t, `{"down_all":true,"hang_all":false,"down_clients":[],"hang_percent":0,"fail_every":0,"hang_next":0}`, string(a.body))
	require.Equal(t, Faults{DownAll: true, DownClients: []string{}}, b.srv.Faults())
	for _, id := range []string{"", "x"} {
		require.Equal(t, http.StatusServiceUnavailable, b.list(t, id, tok, "").status)
		a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic(refEmail, refPassword), "X-Client-ID": id})
		require.Equal(t, http.StatusServiceUnavailable, a.status)
	}
	checkAnswer(t, b.do(t, http.MethodGet, "/health", nil))

	a = set(`{"down_clients":["x", " y "],"fail_every":2}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, Faults{DownClients: []string{"x", "y"}, FailEvery: 2}, b.srv.Faults())
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status, "a new value replaces the old whole")
	require.Equal(t, http.StatusServiceUnavailable, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusServiceUnavailable, b.list(t, "y", tok, "").status)

	for body, message := range map[string]string{
		``:                         "invalid faults",
		`nope`:                     "invalid character",
		`{"down_all":"yes"}`:       "cannot unmarshal",
		`{"hang_percent":150}`:     "hang_percent must be between 0 and 100",
		`{"hang_percent":-1}`:      "hang_percent",
		`{"hang_next":-1}`:         "hang_next must not be negative",
		`{"fail_every":-2}`:        "fail_every",
		`{"hang_al":true}`:         "unknown field",
		`{"down_all":true} {}`:     "unexpected data",
		`[1,2]`:                    "cannot unmarshal",
		`{"fail_every":1e99}`:      "cannot unmarshal",
		`{"down_clients":[1]}`:     "cannot unmarshal",
		strings.Repeat(" ", 1<<17): "invalid faults",
	} {
		a := set(body)
		require.Equal(t, http.StatusBadRequest, a.status, body)
		require.Contains(t, a.apiErr(t).Message, message, body)
	}
	require.Equal(t, Faults{DownClients: []string{"x", "y"}, FailEvery: 2}, b.srv.Faults(), "bad bodies change nothing")

	require.Error(t, b.srv.SetFaults(Faults{HangPercent: 100.5}))
	got := b.srv.Faults()
	got.DownClients[0] = "changed"
	require.Equal(t, []string{"x", "y"}, b.srv.Faults().DownClients, "Faults returns a copy")
}

func TestHangsAreReproducibleFromTheSeed(t *testing.T) {
	t.Parallel()
	pattern := func(seed int64) (out []bool) {
		cfg := quietConfig()
		cfg.HangPercent = 30
		cfg.Seed = seed
		b := setup(t, cfg, nil)
		tok := b.token(t, "")
		for i := range 40 {
			// Another client's requests in between must not shift this
			// client's sequence.
			if i%3 == 0 {
				b.outcome(t, "noise", tok)
			}
			out = append(out, b.outcome(t, "c", tok))
		}
		return out
	}
	first, again, other := pattern(7), pattern(7), pattern(8)
	require.Equal(t, first, again)
	require.NotEqual(t, first, other)
	hangs := 0
	for _, h := range first {
		if h {
			hangs++
		}
	}
	require.InDelta(t, 12, hangs, 8, "about 30%% of 40")
}

// outcome sends a list request and reports whether it hung; a hung request
// is given up at once.
func (b *bundle) outcome(t *testing.T, clientID, token string) (hung bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan answer, 1)
	go func() {
		a, _ := b.doCtx(ctx, http.MethodGet, "/api/campaigns", headers{"Authorization": "Bearer " + token, "X-Client-ID": clientID})
		done <- a
	}()
	for {
		select {
		case a := <-done:
			require.Equal(t, http.StatusOK, a.status)
			return false
		case <-time.After(time.Millisecond):
			if b.srv.waiting.Load() > 0 {
				cancel()
				<-done
				waitFor(t, "the hung request to end", func() bool { return b.srv.waiting.Load() == 0 })
				return true
			}
		}
	}
}

func TestHungRequestEndsWhenTheClientGivesUp(t *testing.T) {
	b := setup(t, quietConfig(), nil)
	tok := b.token(t, "")
	b.ts.Client().CloseIdleConnections()
	require.NoError(t, b.srv.SetFaults(Faults{HangAll: true}))
	before := goleak.IgnoreCurrent()

	for _, target := range []string{"/api/campaigns", "/api/campaigns/campaign_1/sync"} {
		method := http.MethodGet
		if strings.HasSuffix(target, "/sync") {
			method = http.MethodPost
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := b.hangingRequest(t, ctx, method, target, "", tok)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		waitFor(t, "the hung request to end", func() bool { return b.srv.waiting.Load() == 0 })
	}
	b.ts.Client().CloseIdleConnections()
	goleak.VerifyNone(t, before)

	st := b.srv.Stats().Clients[defaultClientID]
	require.EqualValues(t, 2, st.Hangs)
	require.EqualValues(t, 1, st.Requests[EndpointList][OutcomeHang])
	require.EqualValues(t, 1, st.Requests[EndpointSync][OutcomeHang])

	// A client with a timeout gets its time-out error.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := b.doCtx(ctx, http.MethodGet, "/api/campaigns", headers{"Authorization": "Bearer " + tok})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCloseReleasesHungAndSleepingRequests(t *testing.T) {
	cfg := quietConfig()
	cfg.SyncDelay = time.Hour
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	b.ts.Client().CloseIdleConnections()
	before := goleak.IgnoreCurrent()

	var pending []<-chan error
	for range 3 {
		pending = append(pending, b.hangingRequest(t, context.Background(), http.MethodPost, "/api/campaigns/campaign_2/sync", "", tok))
	}
	require.NoError(t, b.srv.SetFaults(Faults{HangAll: true}))
	for range 3 {
		pending = append(pending, b.hangingRequest(t, context.Background(), http.MethodGet, "/api/campaigns", "", tok))
	}
	require.EqualValues(t, 6, b.srv.Stats().Waiting)

	start := time.Now()
	b.srv.Close()
	for _, done := range pending {
		err := <-done
		require.Error(t, err)
		var unexpected *unexpectedAnswer
		require.NotErrorAs(t, err, &unexpected, "the connection is dropped, nothing is answered")
	}
	require.Less(t, time.Since(start), time.Second, "Close releases them promptly")
	waitFor(t, "the handlers to return", func() bool { return b.srv.Stats().Waiting == 0 })
	st := b.srv.Stats().Clients[defaultClientID]
	require.EqualValues(t, 3, st.Requests[EndpointSync][OutcomeCanceled])
	require.EqualValues(t, 3, st.Requests[EndpointList][OutcomeHang])
	b.srv.Close() // twice is fine

	// After Close the mock still answers, but nothing waits any more.
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/health", nil).status)
	_, err := b.doCtx(context.Background(), http.MethodGet, "/api/campaigns", headers{"Authorization": "Bearer " + tok})
	require.Error(t, err)
	b.ts.Client().CloseIdleConnections()
	goleak.VerifyNone(t, before)
}

func TestSyncDelayEndsWhenTheClientGivesUp(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.SyncDelay = time.Hour
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := b.hangingRequest(t, ctx, http.MethodPost, "/api/campaigns/campaign_3/sync", "", tok)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	waitFor(t, "the sync call to end", func() bool { return b.srv.waiting.Load() == 0 })
	waitFor(t, "the cancel to be counted", func() bool {
		return b.srv.Stats().Clients[defaultClientID].Requests[EndpointSync][OutcomeCanceled] == 1
	})
}

func TestSyncDelayFollowsTheTimeScale(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.TimeScale = 60 // 2 s -> 33 ms
	cfg.SyncDelay = 2 * time.Second
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	start := time.Now()
	a := b.api(t, http.MethodPost, "/api/campaigns/campaign_1/sync", "", tok)
	took := time.Since(start)
	require.Equal(t, http.StatusOK, a.status)
	require.GreaterOrEqual(t, took, 33*time.Millisecond)
	require.Less(t, took, time.Second)
}
