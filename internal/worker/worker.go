// Package worker assembles one worker process: the asynq server running the
// pipeline's handlers under the shared rate budget, the ops server
// (health, readiness, metrics, asynqmon), and a watch that resumes the
// running runs from the ledger when the Redis primary fails over. Scaling out is starting more of
// these, on any machine that reaches the same Redis and PostgreSQL.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/clients"
	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/logging"
	"github.com/adsync/adsync/internal/metrics"
	"github.com/adsync/adsync/internal/pipeline"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/runs"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/wiring"
)

// opsShutdownTimeout bounds the ops server's shutdown, after the asynq
// server has stopped.
const opsShutdownTimeout = 5 * time.Second

// Run runs a worker until ctx ends, then stops taking tasks and lets
// in-flight ones finish (up to SHUTDOWN_TIMEOUT); unstarted tasks stay
// queued for the other workers. The ops server on HTTP_ADDR starts first
// and stops last, so health, metrics and asynqmon stay up while in-flight
// tasks finish.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	live, err := clients.New(clients.FromConfig(cfg), clients.Options{Logger: log})
	if err != nil {
		return err
	}
	redisOpt, rdb, err := wiring.Redis(ctx, cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	st, err := wiring.Store(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	m := metrics.New(metrics.Options{
		Queues: asynq.NewInspectorFromRedisClient(rdb), Runs: st,
		RecentRuns: max(metrics.DefaultRecentRuns, 4*live.List().Len()), Logger: log,
	})
	if err := m.Register(live.Collectors()...); err != nil {
		return err
	}
	lim, err := wiring.Limiter(rdb, cfg, m)
	if err != nil {
		return err
	}
	pc, err := wiring.Platform(cfg, live.Credentials, lim, m, log)
	if err != nil {
		return err
	}
	// A refused password makes the client read the clients file again at
	// once: it may have changed on the platform a moment before the file.
	pc.ReloadWith(func(ctx context.Context) { _, _ = live.Reload(ctx) })
	timeouts, err := pc.LearnTimeouts(ctx, rdb, platform.TimeoutOptions{Floor: cfg.PlatformTimeoutFloor, Factor: cfg.PlatformTimeoutFactor, Observer: m, Logger: log})
	if err != nil {
		return err
	}
	defer timeouts.Stop()
	go pc.KeepTokens(ctx, func() []string { return live.List().IDs() })
	client := asynq.NewClientFromRedisClient(rdb)
	policy := pipeline.NewPolicy(cfg)
	queue := wiring.Queue(client, cfg)
	fanOut := fanout.New(queue, lim, cfg.SyncCall)
	handlers := pipeline.New(pipeline.Options{
		Platform: pc, Store: st, FanOut: fanOut, SyncCall: cfg.SyncCall,
		Policy: policy, ReconcilePasses: &cfg.ListReconcilePasses, Logger: log, Metrics: m,
	})
	watch := newFailoverWatch(rdb, runs.NewStarter(st, queue, rdb, cfg.PageSize, fanOut, log), log)
	mux := asynq.NewServeMux()
	health := &redisHealth{}
	rdb.AddHook(health)
	gate := &redisGate{rdb: rdb, down: health, log: log, maxHold: maxReportHold, poll: 100 * time.Millisecond}
	mux.Use(gate.middleware)
	handlers.Register(mux)

	opsSrv, err := startOps(cfg, redisOpt, rdb, st, m, log, live.Check())
	if err != nil {
		return err
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              cfg.WorkerConcurrency,
		Queues:                   tasks.QueueWeights,
		IsFailure:                pipeline.IsFailure,
		RetryDelayFunc:           policy.RetryDelay,
		DelayedTaskCheckInterval: cfg.QueuePollInterval,
		TaskCheckInterval:        cfg.QueuePollInterval,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		Logger:                   outageQuietLogger{Asynq: logging.Asynq{L: log}, health: health},
		LogLevel:                 asynq.WarnLevel,
	})
	if err := srv.Start(mux); err != nil {
		return stopOps(opsSrv, log, fmt.Errorf("start asynq server: %w", err))
	}
	live.CancelRemoved(ctx, st)
	go live.Watch(ctx)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := watch.start(watchCtx)
	log.Info("worker started", "concurrency", cfg.WorkerConcurrency, "clients", live.List().Len(), "config", cfg.String())
	<-ctx.Done()
	log.Info("worker stopping: finishing in-flight tasks", "timeout", cfg.ShutdownTimeout)
	stopWatch()
	watched()
	srv.Shutdown()
	if err := stopOps(opsSrv, log, nil); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}
