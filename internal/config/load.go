package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/adsync/adsync/internal/redisconn"
)

// Problems is every problem found in the configuration, one per bad
// variable. Its Error is one line per problem, ready to print before exiting
// with status 2.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// Load reads the configuration from the environment and validates it. A
// secret variable may be given as NAME_FILE instead (SecretVariables). On
// failure the error is a Problems value naming each bad variable.
func Load() (Config, error) {
	return LoadFrom(env.ToMap(os.Environ()))
}

// LoadFrom is Load over an explicit environment, for tests.
func LoadFrom(vars map[string]string) (Config, error) {
	var c Config
	vars, fileProblems := withSecretFiles(vars)
	problems, unparsed := Problems{}, map[string]bool{}
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		problems, unparsed = parseProblems(err, vars)
	}
	problems = append(problems, fileProblems...)
	for _, line := range fileProblems {
		// A secret that could not be read is reported once, as its _FILE.
		name, _, _ := strings.Cut(line, ":")
		unparsed[strings.TrimSuffix(name, fileSuffix)] = true
	}
	for _, p := range c.validate() {
		if name, _, _ := strings.Cut(p, ":"); !unparsed[name] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return Config{}, problems
	}
	return c, nil
}

// parseProblems turns env's aggregate error into one line per variable,
// naming the variable rather than the Go field, and returns the variables
// that did not parse, whose range checks would only repeat the problem.
func parseProblems(err error, vars map[string]string) (Problems, map[string]bool) {
	unparsed := map[string]bool{}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return Problems{err.Error()}, unparsed
	}
	var out Problems
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := varName(pe.Name)
			unparsed[name] = true
			out = append(out, fmt.Sprintf("%s: %q is not a valid %s", name, vars[name], typeName(pe.Type.String())))
			continue
		}
		out = append(out, e.Error())
	}
	return out, unparsed
}

func typeName(goType string) string {
	switch goType {
	case "time.Duration":
		return "duration (such as 500ms, 10s, 1m)"
	case "bool":
		return "boolean (true or false)"
	case "int":
		return "whole number"
	case "float64":
		return "number (such as 2 or 1.5)"
	}
	return goType
}

func varName(field string) string {
	f, ok := reflect.TypeOf(Config{}).FieldByName(field)
	if !ok {
		return field
	}
	return f.Tag.Get("env")
}

// maxWriteBatchSize bounds WRITE_BATCH_SIZE: a worker holds up to three
// batches of rows in memory (one writing, one filling, one queued).
const maxWriteBatchSize = 10000

// maxTimeoutFactor bounds PLATFORM_TIMEOUT_FACTOR: beyond it the learned
// timeout is PLATFORM_TIMEOUT for any platform worth syncing from, and a
// typo (20 for 2.0) should say so.
const maxTimeoutFactor = 10

func (c Config) validate() Problems {
	var p Problems
	bad := func(name, format string, args ...any) {
		p = append(p, name+": "+fmt.Sprintf(format, args...))
	}
	if _, err := redisconn.Parse(c.RedisURL); err != nil {
		bad("REDIS_URL", "%v", err)
	}
	if u, err := url.Parse(c.DatabaseURL.Reveal()); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL", "not a postgres:// URL")
	}
	if u, err := url.Parse(c.PlatformURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("PLATFORM_URL", "not an http(s) URL: %q", redactURL(c.PlatformURL))
	}
	if c.RateLimit < 1 {
		bad("PLATFORM_RATE_LIMIT", "must be at least 1, got %d", c.RateLimit)
	}
	if c.RateWindow <= 0 {
		bad("PLATFORM_RATE_WINDOW", "must be positive, got %s", c.RateWindow)
	}
	if c.RateMargin < 0 {
		bad("PLATFORM_RATE_MARGIN", "must not be negative, got %s", c.RateMargin)
	}
	if c.RateWaitInPlace < 0 {
		bad("RATE_WAIT_IN_PLACE", "must not be negative, got %s", c.RateWaitInPlace)
	}
	if c.PageSize < 1 || c.PageSize > 100 {
		bad("PAGE_SIZE", "must be between 1 and 100, got %d", c.PageSize)
	}
	if c.PlatformTimeout <= 0 {
		bad("PLATFORM_TIMEOUT", "must be positive, got %s", c.PlatformTimeout)
	}
	if c.PlatformTimeoutFloor <= 0 {
		bad("PLATFORM_TIMEOUT_FLOOR", "must be positive, got %s", c.PlatformTimeoutFloor)
	}
	if !(c.PlatformTimeoutFactor >= 1 && c.PlatformTimeoutFactor <= maxTimeoutFactor) {
		bad("PLATFORM_TIMEOUT_FACTOR", "must be between 1 and %d, got %v", maxTimeoutFactor, c.PlatformTimeoutFactor)
	}
	if c.ListReconcilePasses < 0 || c.ListReconcilePasses > 100 {
		bad("LIST_RECONCILE_PASSES", "must be between 0 and 100, got %d", c.ListReconcilePasses)
	}
	if c.TaskMaxRetry < 0 {
		bad("TASK_MAX_RETRY", "must not be negative, got %d", c.TaskMaxRetry)
	}
	if c.RetryBackoffMin <= 0 {
		bad("RETRY_BACKOFF_MIN", "must be positive, got %s", c.RetryBackoffMin)
	}
	if c.RetryBackoffMax < c.RetryBackoffMin {
		bad("RETRY_BACKOFF_MAX", "must be at least RETRY_BACKOFF_MIN (%s), got %s", c.RetryBackoffMin, c.RetryBackoffMax)
	}
	if c.WorkerConcurrency < 1 {
		bad("WORKER_CONCURRENCY", "must be at least 1, got %d", c.WorkerConcurrency)
	}
	if c.QueuePollInterval <= 0 {
		bad("QUEUE_POLL_INTERVAL", "must be positive, got %s", c.QueuePollInterval)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive, got %s", c.ShutdownTimeout)
	}
	if (c.AsynqmonUser == "") != c.AsynqmonPassword.IsZero() {
		bad("ASYNQMON_USER", "ASYNQMON_USER and ASYNQMON_PASSWORD must be set together")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch strings.ToLower(c.LogFormat) {
	case "json", "text":
	default:
		bad("LOG_FORMAT", "must be json or text, got %q", c.LogFormat)
	}
	if c.WriteBatchSize < 1 || c.WriteBatchSize > maxWriteBatchSize {
		bad("WRITE_BATCH_SIZE", "must be between 1 and %d, got %d", maxWriteBatchSize, c.WriteBatchSize)
	}
	if c.WriteBatchWait < 0 || c.WriteBatchWait > time.Second {
		bad("WRITE_BATCH_WAIT", "must be between 0 and 1s, got %s", c.WriteBatchWait)
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || !validPort(port) {
		bad("HTTP_ADDR", "not a [host]:port listen address such as :8080, got %q", c.HTTPAddr)
	}
	return p
}

// validPort reports whether s is a port number, 0 (any free port) included.
func validPort(s string) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n <= 65535
}
