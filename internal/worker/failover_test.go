package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/runs"
	"github.com/adsync/adsync/internal/testenv"
)

// ownRedis starts a redis-server of the test's own on a free port: the test
// changes its replication role, which the shared Redis must never see.
func ownRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, cmd.Start(), "redis-server must be installed")
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	testenv.WaitFor(t, 10*time.Second, "redis-server to answer", func() bool { return c.Ping(context.Background()).Err() == nil })
	return c, port
}

// The watch resumes the runs when the primary's replication ID changes
// (here the server follows another one and is promoted again, as a replica
// is in a failover), not before, and tries again while the resume fails.
func TestFailoverWatchResumesWhenThePrimaryChanges(t *testing.T) {
	rdb, _ := ownRedis(t)
	_, otherPort := ownRedis(t)
	var logs bytes.Buffer
	calls, fail := 0, false
	w := &failoverWatch{rdb: rdb, log: slog.New(slog.NewTextHandler(&logs, nil)), interval: time.Second,
		resume: func(context.Context) ([]runs.Resumed, error) {
			calls++
			if fail {
				return nil, errors.New("postgres away")
			}
			return []runs.Resumed{{RunID: 1, ClientID: "acme", Items: 3}}, nil
		}}
	w.check(t.Context())
	w.check(t.Context())
	require.Zero(t, calls, "no resume without a change")

	require.NoError(t, rdb.Do(t.Context(), "REPLICAOF", "127.0.0.1", otherPort).Err())
	require.NoError(t, rdb.Do(t.Context(), "REPLICAOF", "NO", "ONE").Err())
	fail = true
	w.check(t.Context())
	require.Equal(t, 1, calls)
	require.Contains(t, logs.String(), "Redis primary changed")
	require.Contains(t, logs.String(), "will try again")
	fail = false
	w.check(t.Context())
	require.Equal(t, 2, calls, "a failed resume is tried again")
	require.Contains(t, logs.String(), "work resumed after the Redis failover")
	require.Contains(t, logs.String(), "records_reenqueued=3")
	w.check(t.Context())
	require.Equal(t, 2, calls, "once resumed, the new primary is the known one")
}

// An unreachable Redis is logged once, and its return once.
func TestFailoverWatchLogsAnOutageOnce(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	var logs bytes.Buffer
	w := &failoverWatch{rdb: rdb, log: slog.New(slog.NewTextHandler(&logs, nil)), interval: time.Second,
		resume: func(context.Context) ([]runs.Resumed, error) { return nil, nil }}
	w.check(t.Context())
	w.check(t.Context())
	require.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("Redis primary lost")))
}
