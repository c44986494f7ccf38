// Package wiring builds the parts that the worker and the enqueuer share
// from the configuration: the Redis connection, the database (with its
// schema brought up to date), the shared rate limiter and the platform
// client. Both binaries get the same parts built the same way.
package wiring

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/redisconn"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// Redis returns asynq's connection option and a go-redis client for the
// same deployment (one server, a Sentinel-watched primary or a Cluster, see
// redisconn), after checking that it answers.
func Redis(ctx context.Context, cfg config.Config) (asynq.RedisConnOpt, redis.UniversalClient, error) {
	conn, err := redisconn.Parse(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := conn.NewClient()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("redis (%s) at %s is not reachable: %w", conn.Kind, cfg.RedactedRedisURL(), err)
	}
	return conn.Asynq, rdb, nil
}

// Store migrates the database and opens it.
func Store(ctx context.Context, cfg config.Config) (*store.Store, error) {
	if err := store.Migrate(ctx, cfg.DatabaseURL.Reveal()); err != nil {
		return nil, err
	}
	return store.OpenWith(ctx, cfg.DatabaseURL.Reveal(), store.Options{
		WriteBatchSize: cfg.WriteBatchSize, WriteBatchWait: cfg.WriteBatchWait,
	})
}

// Limiter builds the shared per-client rate budget from the configuration,
// so that every worker process books against the same limit and window.
func Limiter(rdb redis.UniversalClient, cfg config.Config, obs ratelimit.Observer) (*ratelimit.Limiter, error) {
	return ratelimit.New(rdb, ratelimit.Options{
		Limit: cfg.RateLimit, Window: cfg.RateWindow, Margin: cfg.RateMargin,
		MaxInPlaceWait: cfg.RateWaitInPlace, Observer: obs,
	})
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

// TransientRetriesInPlace is how many times a worker retries a transiently
// failed platform request before the task goes back to the queue for its
// retry. Two: the reference platform fails every fifth list call, so a
// retry fails again one time in five, and two in a row one time in 25;
// each in-place retry holds a worker slot for RETRY_BACKOFF_MIN or twice
// that.
const TransientRetriesInPlace = 2

// Platform builds the platform client; creds looks a client's credentials
// up for each request (the live client list's Credentials).
func Platform(cfg config.Config, creds func(string) (platform.Credentials, bool), lim platform.Limiter, obs platform.Observer, log *slog.Logger) (*platform.Client, error) {
	return platform.New(platform.Options{
		BaseURL:             cfg.PlatformURL,
		Timeout:             cfg.PlatformTimeout,
		Credentials:         creds,
		Limiter:             lim,
		Observer:            obs,
		Logger:              log,
		TransientRetries:    TransientRetriesInPlace,
		RetryTransientAfter: cfg.RetryBackoffMin,
	})
}
