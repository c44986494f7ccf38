package enqueuer

import (
	"context"
	"io"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/runs"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/wiring"
)

// env is what a command works with; connections open on first use, so
// `enqueuer status` never touches Redis.
type env struct {
	cfg            config.Config
	log            *slog.Logger
	stdout, stderr io.Writer

	st  *store.Store
	rdb redis.UniversalClient
	aq  *asynq.Client
}

func (e *env) store(ctx context.Context) (*store.Store, error) {
	if e.st == nil {
		st, err := wiring.Store(ctx, e.cfg)
		if err != nil {
			return nil, err
		}
		e.st = st
	}
	return e.st, nil
}

// starter opens the store and Redis if not yet open and returns a run
// starter on them.
func (e *env) starter(ctx context.Context) (*runs.Starter, error) {
	st, err := e.store(ctx)
	if err != nil {
		return nil, err
	}
	if e.rdb == nil {
		_, rdb, err := wiring.Redis(ctx, e.cfg)
		if err != nil {
			return nil, err
		}
		e.rdb, e.aq = rdb, asynq.NewClientFromRedisClient(rdb)
	}
	q := wiring.Queue(e.aq, e.cfg)
	fo, err := wiring.FanOut(e.rdb, e.cfg, q)
	if err != nil {
		return nil, err
	}
	return runs.NewStarter(st, q, e.rdb, e.cfg.PageSize, fo, e.log), nil
}

func (e *env) close() {
	if e.aq != nil {
		_ = e.aq.Close()
	}
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
	if e.st != nil {
		e.st.Close()
	}
}
