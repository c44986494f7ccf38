package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// redisLogger carries go-redis's internal lines (redis.SetLogger) into the
// process's slog logger. Without it go-redis prints its own lines to
// stderr ("redis: ... pool.go:770: ... failed to dial"), in neither the
// chosen format nor level, several times before the caller's own error.
type redisLogger struct{ l *slog.Logger }

// Printf implements go-redis's internal.Logging. A failure to connect is
// logged at debug level: the command that needed the connection returns
// the same error to its caller, which reports it once, with what it was
// doing. Anything else go-redis has to say is a warning.
func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	if unreachable(msg) {
		r.l.DebugContext(ctx, msg, "component", "go-redis")
		return
	}
	r.l.WarnContext(ctx, msg, "component", "go-redis")
}

// unreachable says whether a message of go-redis or asynq is about Redis
// not answering at all, rather than about a command.
func unreachable(msg string) bool {
	for _, s := range []string{
		"failed to dial", "dial tcp", "connection refused", "connection reset", "broken pipe",
		"i/o timeout", "no such host", "network is unreachable", "no route to host", ": EOF",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// unreachableHint is the line a Redis outage gives in a worker's log.
const unreachableHint = "Redis is unreachable: check REDIS_URL and that Redis is running; asynq retries on its own"

// outageGate lets one line through per interval, and counts the others, so
// that an outage of Redis gives one clear line every interval instead of
// a line per asynq component and poll (several a second).
type outageGate struct {
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// admit says whether a line may be logged now, and how many were held back
// since the last one that was.
func (g *outageGate) admit() (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if !g.last.IsZero() && now.Sub(g.last) < g.every {
		g.suppressed++
		return false, 0
	}
	n := g.suppressed
	g.last, g.suppressed = now, 0
	return true, n
}

// outage is the process's gate for Redis outage lines: asynq's components
// log through copies of Asynq, so the gate cannot live in one of them.
var outage = &outageGate{every: 30 * time.Second, now: time.Now}

// logAsynq logs one asynq line at level, collapsing the lines of a Redis
// outage through the gate: the first in each interval becomes the hint
// with asynq's message as its error, and the rest go to debug level.
func (a Asynq) logAsynq(level slog.Level, msg string, attrs ...any) {
	attrs = append(attrs, "component", "asynq")
	if level >= slog.LevelWarn && unreachable(msg) {
		ok, held := outage.admit()
		if !ok {
			a.L.Debug(msg, attrs...)
			return
		}
		attrs = append(attrs, "error", msg)
		if held > 0 {
			attrs = append(attrs, "lines_held_back", held)
		}
		a.L.Log(context.Background(), level, unreachableHint, attrs...)
		return
	}
	a.L.Log(context.Background(), level, msg, attrs...)
}
