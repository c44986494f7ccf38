// Package wiring builds the parts that the worker and the enqueuer share
// from the configuration: the Redis connection, the database (with its
// schema brought up to date), the shared rate limiter and the platform
// client. Both binaries get the same parts built the same way.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/pipeline"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/redisconn"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// Redis returns asynq's connection option and a go-redis client for the
// same deployment (one server, a Sentinel-watched primary or a Cluster, see
// redisconn), after checking that it answers. When it does not, the error
// is one line that names the deployment by its URL with the password
// masked and says what to check.
func Redis(ctx context.Context, cfg config.Config) (asynq.RedisConnOpt, redis.UniversalClient, error) {
	conn, err := redisconn.Parse(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := conn.NewClient()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, &unreachableError{
			what: fmt.Sprintf("redis (%s) at %s", conn.Kind, cfg.RedactedRedisURL()),
			hint: "check REDIS_URL and that Redis is running", err: err,
		}
	}
	return conn.Asynq, rdb, nil
}

// Store migrates the database and opens it. When PostgreSQL does not
// answer (store.ErrUnavailable), the error is one line that says what to
// check; the store's own error names the host and port, never the URL,
// which may hold a password.
func Store(ctx context.Context, cfg config.Config) (*store.Store, error) {
	st, err := openStore(ctx, cfg)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, &unreachableError{what: "PostgreSQL", hint: "check DATABASE_URL and that PostgreSQL is running", err: err}
	}
	return st, err
}

func openStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	if err := store.Migrate(ctx, cfg.DatabaseURL.Reveal()); err != nil {
		return nil, err
	}
	return store.OpenWith(ctx, cfg.DatabaseURL.Reveal(), store.Options{
		WriteBatchSize: cfg.WriteBatchSize, WriteBatchWait: cfg.WriteBatchWait,
	})
}

// unreachableError is a store that does not answer, as one line: what is
// unreachable, why, and what to check. The drivers' errors may span lines
// (pgconn gives one per connection attempt, often the same twice); they are
// joined, leaving out a line the ones before already say.
type unreachableError struct {
	what, hint string
	err        error
}

func (e *unreachableError) Error() string {
	var why string
	for _, l := range strings.Split(e.err.Error(), "\n") {
		switch l = strings.TrimSpace(l); {
		case l == "" || strings.Contains(why, l):
		case why == "":
			why = l
		default:
			why += "; " + l
		}
	}
	return fmt.Sprintf("%s is not reachable: %s; %s", e.what, why, e.hint)
}

func (e *unreachableError) Unwrap() error { return e.err }

// Limiter builds the shared per-client rate budget from the configuration,
// so that every worker process books against the same limit and window.
func Limiter(rdb redis.UniversalClient, cfg config.Config, obs ratelimit.Observer) (*ratelimit.Limiter, error) {
	return ratelimit.New(rdb, ratelimit.Options{
		Limit: cfg.RateLimit, Window: cfg.RateWindow, Margin: cfg.RateMargin,
		MaxInPlaceWait: cfg.RateWaitInPlace, Observer: obs,
	})
}

// Queue builds the task queue, whose tasks carry the task policy's retry
// budget and timeout.
func Queue(client *asynq.Client, cfg config.Config) *tasks.Queue {
	p := pipeline.NewPolicy(cfg)
	return tasks.NewQueue(client, p.MaxRetry(), p.TaskTimeout())
}

// FanOut builds what enqueues a run's work with its slots of the shared
// budget booked (package fanout), for processes that do not send requests
// themselves and so have no limiter of their own, such as the enqueuer.
func FanOut(rdb redis.UniversalClient, cfg config.Config, q *tasks.Queue) (*fanout.FanOut, error) {
	lim, err := Limiter(rdb, cfg, nil)
	if err != nil {
		return nil, err
	}
	return fanout.New(q, lim, cfg.SyncCall), nil
}

// Platform builds the platform client; creds looks a client's credentials
// up for each request (the live client list's Credentials). Its in-place
// retries of transient failures follow the task policy.
func Platform(cfg config.Config, creds func(string) (platform.Credentials, bool), lim platform.Limiter, obs platform.Observer, log *slog.Logger) (*platform.Client, error) {
	policy := pipeline.NewPolicy(cfg)
	return platform.New(platform.Options{
		BaseURL:        cfg.PlatformURL,
		Timeout:        cfg.PlatformTimeout,
		Credentials:    creds,
		Limiter:        lim,
		Observer:       obs,
		Logger:         log,
		InPlaceRetries: policy.InPlaceRetries(),
		InPlaceDelay:   policy.InPlaceDelay,
	})
}
