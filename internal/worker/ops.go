package worker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/metrics"
	"github.com/adsync/adsync/internal/ops"
	"github.com/adsync/adsync/internal/store"
)

// startOps starts the ops server on HTTP_ADDR: readiness asks the worker's
// own Redis and PostgreSQL connections, and the extra checks; asynqmon reads
// the same Redis.
func startOps(cfg config.Config, redisOpt asynq.RedisConnOpt, rdb redis.UniversalClient, st *store.Store,
	m *metrics.Metrics, log *slog.Logger, extra ...ops.Check) (*ops.Server, error) {
	srv, err := ops.New(ops.Options{
		Addr: cfg.HTTPAddr, RedisConnOpt: redisOpt, ReadOnly: cfg.AsynqmonReadOnly,
		User: cfg.AsynqmonUser, Password: cfg.AsynqmonPassword,
		Checks: append([]ops.Check{
			{Name: "redis", Probe: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
			{Name: "postgres", Probe: st.Ping},
		}, extra...),
		Metrics: m.Handler(), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, stopOps(srv, log, err) // releases asynqmon's Redis connections
	}
	return srv, nil
}

// stopOps shuts the ops server down within opsShutdownTimeout and returns
// cause joined with any shutdown error.
func stopOps(srv *ops.Server, log *slog.Logger, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), opsShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		log.Warn("ops server did not stop cleanly", "error", err.Error())
	}
	return errors.Join(cause, err)
}
