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
	"github.com/adsync/adsync/internal/pipeline"
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
