//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/redisconn"
	"github.com/adsync/adsync/internal/testenv"
)

// clusterClients is the size of the cluster sync.
const clusterClients = 10

// A full sync of ten clients at time scale 60 with two workers against a
// Redis Cluster of three primaries, given as a seed list: asynq's queues,
// the rate budgets (whose scripts keep each client's keys in one hash
// slot), the failover watch and asynqmon all work over the cluster. Every
// campaign lands once and the mock refuses no client a request; the window
// itself is TestClusterRateLimitWindow's.
func TestClusterFullSync(t *testing.T) {
	c := startCluster(t)
	d := deploy(t, deployOptions{clients: clusterClients, redisURL: c.url(),
		env: map[string]string{"PLATFORM_RATE_MARGIN": "250ms"}}) // see syncThroughSentinel
	w1, w2 := d.startWorker(), d.startWorker()
	start := time.Now()
	enq := d.enqueuer("sync", "--wait")
	ids := d.runIDs(enq)
	code := enq.wait(t, 5*time.Minute)
	require.Equal(t, 0, code, "enqueuer sync --wait:\n%s\n%s", tail(enq.stdout(), 30), tail(enq.stderr(), 30))
	wall := time.Since(start)
	d.verify(d.waitRuns(ids, time.Minute))
	var http429 int64
	stats := d.mockStats()
	for _, id := range d.clientIDs {
		http429 += stats.Clients[id].RateLimited
		require.Zero(t, stats.Clients[id].RateLimited, "client %s got 429s", id)
	}
	d.requireNoSecrets(w1) // also reads asynqmon's API over the cluster
	w1.stop(t)
	w2.stop(t)
	t.Logf("RESULT redis=cluster primaries=%d clients=%d wall=%s http429=%d", len(c.nodes), clusterClients, wall.Round(time.Millisecond), http429)
}

// The sliding-window test of the limiter, on a Redis Cluster: two
// "processes" (limiters on cluster clients of their own) send for six
// clients, whose budgets lie on different primaries, as fast as Wait lets
// them. No client ever has more than L sends inside one window.
func TestClusterRateLimitWindow(t *testing.T) {
	c := startCluster(t)
	const (
		limit  = 5
		window = 200 * time.Millisecond
		margin = 100 * time.Millisecond
		run    = 5*(window+margin) + margin/2
	)
	conn, err := redisconn.Parse(c.url())
	require.NoError(t, err)
	require.Equal(t, redisconn.Cluster, conn.Kind)
	opts := ratelimit.Options{Limit: limit, Window: window, Margin: margin, MaxInPlaceWait: 10 * time.Second}
	var limiters []*ratelimit.Limiter
	var first *redis.ClusterClient
	for range 2 {
		rdb := conn.NewClient()
		t.Cleanup(func() { _ = rdb.Close() })
		lim, err := ratelimit.New(rdb, opts)
		require.NoError(t, err)
		limiters = append(limiters, lim)
		if first == nil {
			first = rdb.(*redis.ClusterClient)
		}
	}
	clients := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	nodes := map[string]bool{}
	for _, id := range clients {
		n, err := first.MasterForKey(t.Context(), ratelimit.DefaultKeyPrefix+"{"+id+"}:stamps")
		require.NoError(t, err)
		nodes[n.Options().Addr] = true
	}
	require.GreaterOrEqual(t, len(nodes), 2, "the clients' budgets should lie on several primaries")

	ctx, cancel := context.WithTimeout(t.Context(), run)
	defer cancel()
	waiters := make([]testenv.Waiter, len(limiters))
	for i, l := range limiters {
		waiters[i] = l
	}
	sends := testenv.Hammer(t, ctx, waiters, clients, 4)
	var counts []string
	for _, id := range clients {
		s := sends[id]
		testenv.RequireSlidingWindow(t, id, s, limit, window)
		require.Greater(t, len(s), limit, "client %s stalled after the first window", id)
		counts = append(counts, fmt.Sprintf("%s=%d", id, len(s)))
	}
	t.Logf("sends in %s over %d primaries (25 per client at best): %v", run, len(nodes), counts)
}
