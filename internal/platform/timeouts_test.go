package platform

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/secret"
	"github.com/adsync/adsync/internal/testenv"
)

// gauge records the timeouts reported to a TimeoutObserver.
type gauge struct {
	mu   sync.Mutex
	last map[string]time.Duration
}

func (g *gauge) Timeout(endpoint string, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		g.last = map[string]time.Duration{}
	}
	g.last[endpoint] = d
}

func (g *gauge) get(endpoint string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last[endpoint]
}

// learning starts LearnTimeouts on a Client with ceiling Options.Timeout;
// its refresh ticks far apart, so the test refreshes by hand.
func learning(t *testing.T, c *Client, rdb redis.UniversalClient, o TimeoutOptions) *Timeouts {
	t.Helper()
	o.Refresh = time.Hour
	lt, err := c.LearnTimeouts(context.Background(), rdb, o)
	require.NoError(t, err)
	t.Cleanup(lt.Stop)
	return lt
}

// feed records n successes of d for endpoint and refreshes.
func feed(lt *Timeouts, endpoint string, n int, d time.Duration) {
	for range n {
		lt.record(endpoint, d, false)
	}
	lt.refresh(context.Background())
}

// An endpoint's timeout is the ceiling until MinSamples successes are on
// record, then falls toward Factor times their 99th percentile, and never
// leaves [Floor, ceiling] whatever the latencies.
func TestTimeoutFallsTowardObservedLatency(t *testing.T) {
	t.Parallel()
	const ceiling, floor = 5 * time.Second, 50 * time.Millisecond
	b := setup(t, func(o *Options, _ *fakePlatform) { o.Timeout = ceiling })
	g := &gauge{}
	lt := learning(t, b.client, testenv.Redis(t), TimeoutOptions{Floor: floor, Factor: 2, MinSamples: 20, Samples: 100, Observer: g})
	require.Equal(t, ceiling, g.get(EndpointSync), "the gauge starts at the ceiling")

	feed(lt, EndpointSync, 19, 300*time.Millisecond)
	require.Equal(t, Latency{Timeout: ceiling, Samples: 19}, b.client.Latency(EndpointSync), "19 samples are not enough")

	feed(lt, EndpointSync, 1, 300*time.Millisecond)
	require.Equal(t, Latency{Timeout: 600 * time.Millisecond, Usual: 300 * time.Millisecond, Median: 300 * time.Millisecond, Samples: 20},
		b.client.Latency(EndpointSync))
	require.Equal(t, 600*time.Millisecond, g.get(EndpointSync))
	require.Equal(t, ceiling, b.client.Latency(EndpointList).Timeout, "each endpoint learns on its own")

	// The platform gets faster: the timeout follows it down to the floor.
	feed(lt, EndpointSync, 50, 100*time.Millisecond)
	require.Equal(t, 600*time.Millisecond, b.client.Latency(EndpointSync).Timeout, "one slow request in a hundred still sets the 99th percentile")
	feed(lt, EndpointSync, 100, 10*time.Millisecond)
	require.Equal(t, floor, b.client.Latency(EndpointSync).Timeout)

	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		for range rng.IntN(40) {
			lt.record(EndpointSync, time.Duration(rng.Int64N(int64(30*time.Second))), false)
		}
		lt.refresh(context.Background())
		got := b.client.Latency(EndpointSync).Timeout
		require.GreaterOrEqual(t, got, floor)
		require.LessOrEqual(t, got, ceiling)
	}
}

// Workers sharing Redis share what they learn; the list in Redis stays
// bounded, expires, and sits under one hash tag per endpoint.
func TestTimeoutsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	one := setup(t, func(o *Options, _ *fakePlatform) { o.Timeout = time.Second })
	two := setup(t, func(o *Options, _ *fakePlatform) { o.Timeout = time.Second })
	opts := TimeoutOptions{Floor: time.Millisecond, MinSamples: 20, Samples: 30, SampleTTL: time.Hour, KeyPrefix: "test:"}
	first, second := learning(t, one.client, rdb, opts), learning(t, two.client, rdb, opts)

	feed(first, EndpointList, 40, 40*time.Millisecond)
	require.Equal(t, time.Second, two.client.Latency(EndpointList).Timeout, "not read before the next refresh")
	second.refresh(context.Background())
	require.Equal(t, 80*time.Millisecond, two.client.Latency(EndpointList).Timeout)

	key := "test:{list}:latency"
	require.EqualValues(t, 30, rdb.LLen(context.Background(), key).Val())
	ttl := rdb.PTTL(context.Background(), key).Val()
	require.Greater(t, ttl, 59*time.Minute)
	require.LessOrEqual(t, ttl, time.Hour)
}

// When more requests are cut by their learned timeout than answered, the
// platform has become slower than what was learned: the ceiling comes
// back, and the new latency is learned from there.
func TestMostlyCutRequestsRestoreTheCeiling(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options, _ *fakePlatform) { o.Timeout = 10 * time.Second })
	lt := learning(t, b.client, testenv.Redis(t), TimeoutOptions{Floor: 10 * time.Millisecond, MinSamples: 20, Samples: 100})
	feed(lt, EndpointSync, 60, 100*time.Millisecond)
	require.Equal(t, 200*time.Millisecond, b.client.Latency(EndpointSync).Timeout)

	for range 10 { // a tenth of requests never answered: the timeout stays
		lt.record(EndpointSync, 200*time.Millisecond, true)
	}
	lt.refresh(context.Background())
	require.Equal(t, 200*time.Millisecond, b.client.Latency(EndpointSync).Timeout)

	for range 41 { // of the last 100, 51 cut and 49 answered
		lt.record(EndpointSync, 200*time.Millisecond, true)
	}
	lt.refresh(context.Background())
	require.Equal(t, 10*time.Second, b.client.Latency(EndpointSync).Timeout)

	feed(lt, EndpointSync, 60, 3*time.Second)
	require.Equal(t, 6*time.Second, b.client.Latency(EndpointSync).Timeout)
}

// A request that hangs is given up after the endpoint's learned timeout,
// not after the ceiling: the error names the learned timeout, the mock
// counted the hang, and the cut is recorded as such.
func TestHangCostsTheLearnedTimeout(t *testing.T) {
	t.Parallel()
	const ceiling = 10 * time.Second
	srv, c := mockClient(t, ceiling)
	rdb := testenv.Redis(t)
	lt := learning(t, c, rdb, TimeoutOptions{Floor: 100 * time.Millisecond, MinSamples: 20})

	ctx := context.Background()
	syncMany(t, c, 1, 25)
	// The requests were sent cold, so the learning also refreshed on its
	// own meanwhile; one of those refreshes may still be on its way.
	testenv.WaitFor(t, 5*time.Second, "the 25 answers on record", func() bool {
		lt.refresh(ctx)
		return c.Latency(EndpointSync).Samples == 25
	})
	learned := c.Latency(EndpointSync)
	require.Equal(t, 25, learned.Samples)
	require.GreaterOrEqual(t, learned.Usual, 33*time.Millisecond, "no answer comes before the mock's sync delay")
	require.Less(t, learned.Timeout, ceiling)

	require.NoError(t, srv.SetFaults(mock.Faults{HangAll: true}))
	_, err := c.SyncCampaign(ctx, testClient, "campaign_26")
	e := asError(t, err)
	require.Equal(t, KindTransient, e.Kind)
	require.Contains(t, e.Error(), "no answer within "+learned.Timeout.String())
	testenv.WaitFor(t, 5*time.Second, "the mock to count the hang", func() bool {
		return srv.Stats().Clients[testClient].Hangs == 1
	})
	st := srv.Stats().Clients[testClient]
	require.EqualValues(t, 26, st.Counted)
	require.EqualValues(t, 1, st.Requests[mock.EndpointSync][mock.OutcomeHang])
	require.Zero(t, st.RateLimited)

	lt.refresh(ctx)
	values := rdb.LRange(ctx, DefaultTimeoutKeyPrefix+"{sync}:latency", 0, -1).Val()
	require.Equal(t, strconv.FormatInt(-learned.Timeout.Microseconds(), 10), values[0], "the cut is on record with its timeout")
}

// A request sent before its endpoint's timeout was learned (at a cold
// start) that the platform never answers is cut as soon as the answers of
// the requests sent beside it teach the timeout, not after the ceiling it
// was sent with: the learning refreshes on its own while such a request
// is in flight.
func TestHangSentBeforeLearningCostsTheLearnedTimeout(t *testing.T) {
	t.Parallel()
	const ceiling = 10 * time.Second
	srv, c := mockClient(t, ceiling)
	learning(t, c, testenv.Redis(t), TimeoutOptions{Floor: 100 * time.Millisecond, MinSamples: 20})
	require.Equal(t, ceiling, c.Latency(EndpointSync).Timeout)

	require.NoError(t, srv.SetFaults(mock.Faults{HangNext: 1}))
	hung := make(chan error, 1)
	go func() {
		_, err := c.SyncCampaign(context.Background(), testClient, "campaign_1")
		hung <- err
	}()
	testenv.WaitFor(t, 5*time.Second, "the mock to hold the first request", func() bool {
		return srv.Stats().Clients[testClient].Hangs == 1
	})
	syncMany(t, c, 2, 25)
	e := asError(t, <-hung)
	learned := c.Latency(EndpointSync)
	require.Less(t, learned.Timeout, ceiling)
	require.Equal(t, KindTransient, e.Kind)
	require.Contains(t, e.Error(), "no answer within "+learned.Timeout.String(), "cut at the learned timeout, not the ceiling")
	st := srv.Stats().Clients[testClient]
	require.EqualValues(t, 26, st.Counted)
	require.EqualValues(t, 1, st.Requests[mock.EndpointSync][mock.OutcomeHang])
}

// mockClient is a Client of an in-process mock at time scale 60 (a sync
// call takes 33 ms) without faults, with ceiling as Options.Timeout.
func mockClient(t *testing.T, ceiling time.Duration) (*mock.Server, *Client) {
	t.Helper()
	mc := mock.DefaultConfig()
	mc.TimeScale = 60
	mc.HangPercent, mc.FailEvery, mc.RateLimit = 0, 0, 0
	mc.Accounts = []mock.Account{{Email: testEmail, Password: testPassword}}
	srv, err := mock.NewServer(mc)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	c, err := New(Options{
		BaseURL: hs.URL, Timeout: ceiling, Limiter: &countingLimiter{},
		Credentials: func(string) (Credentials, bool) {
			return Credentials{Email: testEmail, Password: secret.Secret(testPassword)}, true
		},
	})
	require.NoError(t, err)
	return srv, c
}

// syncMany makes n sync calls at once, of campaign_first onwards; each
// must succeed.
func syncMany(t *testing.T, c *Client, first, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := c.SyncCampaign(context.Background(), testClient, fmt.Sprintf("campaign_%d", first+i))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
}

// While Redis cannot be reached the timeouts stay as they are and the
// outcomes wait, within Samples, for a refresh that reaches it; the
// warning is logged once, and a line when Redis answers again.
func TestRedisUnreachableKeepsOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options, _ *fakePlatform) { o.Timeout = time.Second })
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	logs := &testenv.LogBuffer{}
	lt := learning(t, b.client, down, TimeoutOptions{Floor: time.Millisecond, MinSamples: 20, Samples: 30,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})

	for range 2 {
		feed(lt, EndpointList, 20, 40*time.Millisecond)
	}
	require.Equal(t, Latency{Timeout: time.Second}, b.client.Latency(EndpointList))
	require.Equal(t, 1, strings.Count(logs.String(), "cannot share request latencies"), logs.String())

	lt.rdb = testenv.Redis(t)
	lt.refresh(context.Background())
	require.Equal(t, Latency{Timeout: 80 * time.Millisecond, Usual: 40 * time.Millisecond, Median: 40 * time.Millisecond, Samples: 30},
		b.client.Latency(EndpointList), "the 30 latest outcomes were kept")
	require.Contains(t, logs.String(), "request latencies shared again")
}
