package ratelimit

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// privateRedis starts a redis-server of the test's own on a free loopback
// port, without persistence: a test that promotes a replica must not touch
// the machine's shared Redis.
func privateRedis(t *testing.T) *redis.Client { return privateRedisB(t) }

// privateRedisB is privateRedis for tests and benchmarks alike.
func privateRedisB(t testing.TB) *redis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, cmd.Start(), "redis-server must be installed")
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	t.Cleanup(func() { _ = c.Close() })
	testenv.WaitFor(t, 10*time.Second, "redis-server to answer", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
	return c
}

// replicate makes replica a replica of primary and waits until it has
// caught up.
func replicate(t *testing.T, replica, primary *redis.Client) {
	t.Helper()
	host, port, err := net.SplitHostPort(primary.Options().Addr)
	require.NoError(t, err)
	require.NoError(t, replica.Do(t.Context(), "REPLICAOF", host, port).Err())
	testenv.WaitFor(t, 10*time.Second, "the replica to sync", func() bool {
		info, err := replica.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
}

// Stamps written on the primary after the replica stopped following it
// are lost when the replica is promoted. Without a fence the promoted
// replica would grant the client a full budget again within the same
// window; with it, the first decision on the new primary blocks the client
// for a span and the in-place wait, so no window gets more than L sends.
func TestFailoverFencesTheBudgetOfAClientWhoseStampsMayBeLost(t *testing.T) {
	const limit = 4
	primary, replica := privateRedis(t), privateRedis(t)
	replicate(t, replica, primary)
	opts := Options{Limit: limit, Window: 2 * time.Second, Margin: 100 * time.Millisecond, MaxInPlaceWait: 300 * time.Millisecond}
	onPrimary, onReplica := newLimiter(t, primary, opts), newLimiter(t, replica, opts)

	// One send is replicated; then the replica is cut off (as by a crash
	// of the primary) and promoted, and the other sends are lost.
	wait, err := onPrimary.Reserve(t.Context(), "acme")
	require.NoError(t, err)
	require.Zero(t, wait)
	require.NoError(t, primary.Do(t.Context(), "WAIT", 1, 1000).Err())
	require.NoError(t, replica.Do(t.Context(), "REPLICAOF", "NO", "ONE").Err())
	for i := range limit - 1 {
		wait, err := onPrimary.Reserve(t.Context(), "acme")
		require.NoError(t, err)
		require.LessOrEqual(t, wait, time.Duration(i+1)*opts.Margin/2, "the budget had room for %d sends, half a margin apart", limit)
	}

	_, err = onReplica.Reserve(t.Context(), "acme")
	var nb *NoBudgetError
	require.ErrorAs(t, err, &nb, "the first decision on the promoted replica must not send at once")
	span := opts.Window + opts.Margin
	require.Greater(t, nb.Wait, span+opts.MaxInPlaceWait-10*time.Millisecond, "fenced for a span and the in-place wait")
	require.LessOrEqual(t, nb.Wait, span+opts.MaxInPlaceWait+span/2+time.Millisecond, "and at most half a span more")
	blocked, err := onReplica.BlockedFor(t.Context(), "acme")
	require.NoError(t, err)
	require.Greater(t, blocked, span)

	// A client first seen on the promoted server may have lost every
	// stamp, so it is fenced too; the fence is taken once per primary.
	_, err = onReplica.Reserve(t.Context(), "newcomer")
	require.ErrorAs(t, err, &nb, "a client unknown to a promoted server is fenced")
	_, err = onReplica.Reserve(t.Context(), "newcomer")
	require.ErrorAs(t, err, &nb)
	require.Greater(t, nb.Wait, span-time.Second, "the fence stands, it is not taken again")
}

// On a server that never changed roles, a client's first decision sends at
// once: the fence costs nothing without a failover.
func TestNoFenceWithoutAFailover(t *testing.T) {
	rdb := privateRedis(t)
	l := newLimiter(t, rdb, Options{Limit: 2, Window: time.Minute, MaxInPlaceWait: time.Second})
	for range 2 {
		wait, err := l.Reserve(t.Context(), "acme")
		require.NoError(t, err)
		require.Zero(t, wait)
	}
	blocked, err := l.BlockedFor(t.Context(), "acme")
	require.NoError(t, err)
	require.Zero(t, blocked)
}
