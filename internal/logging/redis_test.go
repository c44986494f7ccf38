package logging

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// refused dials nowhere and fails as a dial to a closed port does. A real
// closed port is not used: the kernel may give it to another test's
// listener between its release and the dial, and the dial then succeeds.
func refused(context.Context, string, string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
}

// lines decodes the JSON lines of b.
func lines(t *testing.T, b *testenv.LogBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "a JSON line: %s", l)
		out = append(out, m)
	}
	return out
}

// A client of an unreachable Redis: go-redis's pool lines come through the
// process's logger in its format, at debug level, and not at all at info,
// where the caller's own error is the one line.
func TestGoRedisLinesGoThroughTheChosenLogger(t *testing.T) {
	ping := func() {
		rdb := redis.NewClient(&redis.Options{Dialer: refused, MaxRetries: -1, DialTimeout: time.Second})
		defer rdb.Close()
		require.Error(t, rdb.Ping(context.Background()).Err())
	}

	var debug testenv.LogBuffer
	New(&debug, "debug", "json")
	ping()
	got := lines(t, &debug)
	require.NotEmpty(t, got, "go-redis's dial failure reaches the logger at debug level")
	for _, l := range got {
		require.Equal(t, "go-redis", l["component"])
		require.Equal(t, "DEBUG", l["level"])
		require.Contains(t, l["msg"], "failed to dial")
		require.NotContains(t, l["msg"], "pool.go", "no file:line prefix of the standard logger")
	}

	var info testenv.LogBuffer
	New(&info, "info", "text")
	ping()
	require.Empty(t, info.String(), "at info level the caller's error is the only line")
}

// Other go-redis lines are warnings, in the chosen format.
func TestGoRedisOtherLinesAreWarnings(t *testing.T) {
	var out testenv.LogBuffer
	New(&out, "info", "text")
	redisLogger{New(&out, "info", "text")}.Printf(context.Background(), "redis: re-authentication failed: %v", "WRONGPASS")
	require.Contains(t, out.String(), "level=WARN")
	require.Contains(t, out.String(), `msg="re-authentication failed: WRONGPASS" component=go-redis`)
}

// While Redis is down asynq's components log an error several times a
// second; the worker's log gets one line per interval that says what is
// unreachable and what to check, with asynq's message, and how many lines
// it held back. Other asynq errors pass as they are.
func TestAsynqOutageLinesCollapseToOneLinePerInterval(t *testing.T) {
	now := time.Unix(1000, 0)
	saved := outage
	outage = &outageGate{every: 30 * time.Second, now: func() time.Time { return now }}
	t.Cleanup(func() { outage = saved })

	var out testenv.LogBuffer
	a := Asynq{L: New(&out, "info", "json")}
	down := "Failed to forward scheduled tasks: INTERNAL_ERROR: redis eval error: dial tcp 127.0.0.1:6390: connect: connection refused"
	for range 5 {
		a.Error(down)
		a.Error("Dequeue error: UNKNOWN: redis eval error: dial tcp 127.0.0.1:6390: connect: connection refused")
		now = now.Add(time.Second)
	}
	a.Error("handler panicked: boom")
	now = now.Add(30 * time.Second)
	a.Error(down)

	got := lines(t, &out)
	require.Len(t, got, 3, "%s", out.String())
	require.Equal(t, unreachableHint, got[0]["msg"])
	require.Equal(t, "ERROR", got[0]["level"])
	require.Equal(t, down, got[0]["error"])
	require.NotContains(t, got[0], "lines_held_back")
	require.Equal(t, "handler panicked: boom", got[1]["msg"])
	require.Equal(t, unreachableHint, got[2]["msg"])
	require.EqualValues(t, 9, got[2]["lines_held_back"])
	for _, l := range got {
		require.Equal(t, "asynq", l["component"])
	}
}

func TestUnreachableKnowsConnectionErrorsFromCommandErrors(t *testing.T) {
	for msg, want := range map[string]bool{
		"connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:1: connect: connection refused": true,
		"redis eval error: read tcp 127.0.0.1:5->127.0.0.1:6379: i/o timeout":                                 true,
		"redis command error: ZREM failed: EOF":                                                               true,
		"Dequeue error: UNKNOWN: redis eval error: EOF":                                                       true,
		"Failed to write server state data: NOSCRIPT No matching script":                                      false,
		"WRONGPASS invalid username-password pair":                                                            false,
	} {
		require.Equal(t, want, unreachable(msg), msg)
	}
}
