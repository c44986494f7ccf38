// Package logging builds the process's slog logger from LOG_LEVEL and
// LOG_FORMAT and adapts it to asynq's logger interface, so every line the
// process writes, asynq's included, has one format.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in format ("json" or "text") at level
// ("debug", "info", "warn", "error"); config has validated both.
func New(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(strings.ToUpper(level))) // validated by config; the zero value is info
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Asynq adapts a slog logger to asynq.Logger.
type Asynq struct{ L *slog.Logger }

// Debug logs at debug level.
func (a Asynq) Debug(args ...any) { a.L.Debug(fmt.Sprint(args...), "component", "asynq") }

// Info logs at info level.
func (a Asynq) Info(args ...any) { a.L.Info(fmt.Sprint(args...), "component", "asynq") }

// Warn logs at warn level.
func (a Asynq) Warn(args ...any) { a.L.Warn(fmt.Sprint(args...), "component", "asynq") }

// Error logs at error level.
func (a Asynq) Error(args ...any) { a.L.Error(fmt.Sprint(args...), "component", "asynq") }

// Fatal logs at error level. asynq calls it only for conditions it cannot
// recover from; the process's own shutdown path decides about exiting, so
// it does not call os.Exit here.
func (a Asynq) Fatal(args ...any) {
	a.L.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}
