// Package logging builds the process's slog logger from LOG_LEVEL and
// LOG_FORMAT and adapts it to asynq's logger interface and go-redis's, so
// every line the process writes, asynq's and go-redis's included, has one
// format, and an unreachable Redis reads as one clear line rather than a
// stream of connection-pool errors. Lines logged with the
// context of an asynq task carry its id and attempt, whichever package
// logs them.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// New returns a logger writing to w in format ("json" or "text") at level
// ("debug", "info", "warn", "error"); config has validated both. It also
// makes the logger go-redis's (redis.SetLogger), which is process-wide:
// the last logger built gets go-redis's lines.
func New(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(strings.ToUpper(level))) // validated by config; the zero value is info
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if strings.EqualFold(format, "text") {
		h = slog.NewTextHandler(w, opts)
	}
	log := slog.New(taskHandler{h})
	// go-redis logs through a process-wide logger of its own; the
	// process's logger replaces it, so its lines keep the chosen format.
	redis.SetLogger(redisLogger{log})
	return log
}

// taskHandler adds the task id and attempt to lines logged with the context
// of an asynq task (slog's ...Context methods), so that everything one task
// caused, down to each platform request, can be found by its id in the logs
// and in asynqmon.
type taskHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h taskHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := asynq.GetTaskID(ctx); ok {
		retried, _ := asynq.GetRetryCount(ctx)
		r = r.Clone()
		r.AddAttrs(slog.String("task_id", id), slog.Int("attempt", retried+1))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h taskHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return taskHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h taskHandler) WithGroup(name string) slog.Handler {
	return taskHandler{h.Handler.WithGroup(name)}
}

// Asynq adapts a slog logger to asynq.Logger. While Redis is unreachable,
// asynq's components each log an error several times a second; those
// lines are collapsed into one line every 30 s that says what to check.
type Asynq struct{ L *slog.Logger }

// Debug logs at debug level.
func (a Asynq) Debug(args ...any) { a.logAsynq(slog.LevelDebug, fmt.Sprint(args...)) }

// Info logs at info level.
func (a Asynq) Info(args ...any) { a.logAsynq(slog.LevelInfo, fmt.Sprint(args...)) }

// Warn logs at warn level.
func (a Asynq) Warn(args ...any) { a.logAsynq(slog.LevelWarn, fmt.Sprint(args...)) }

// Error logs at error level.
func (a Asynq) Error(args ...any) { a.logAsynq(slog.LevelError, fmt.Sprint(args...)) }

// Fatal logs at error level. asynq calls it only for conditions it cannot
// recover from; the process's own shutdown path decides about exiting, so
// it does not call os.Exit here.
func (a Asynq) Fatal(args ...any) {
	a.logAsynq(slog.LevelError, fmt.Sprint(args...), "fatal", true)
}
