package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// maxReportHold bounds how long a finished task's report is held back
// waiting for Redis: well inside asynq's 30-second task lease, so that the
// report is still accepted when it goes.
const maxReportHold = 20 * time.Second

// redisGate holds back the report of a task that finished while Redis was
// unreachable (a primary that died, a failover under way) until Redis
// answers again. asynq reports a task's end (done, retry, archive) once
// and, when that fails, retries it with a context that is already
// cancelled, so the report is lost: the task stays "active" on the new
// primary until its lease expires and asynq's recoverer, a minute or two
// later, runs it again. A page or save that met the failover would hold its
// whole run back that long. Held here instead, the report goes to the
// promoted primary as soon as it serves.
type redisGate struct {
	rdb  redis.UniversalClient
	down *redisHealth
	log  *slog.Logger
	// maxHold and poll are maxReportHold and the ping interval; tests
	// shorten them.
	maxHold, poll time.Duration
}

// middleware wraps every handler of the mux.
func (g *redisGate) middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := next.ProcessTask(ctx, t)
		// A task that ends in error goes back to the queue (a retry, or a
		// wait for budget) and its record stays pending in the ledger, so
		// losing its report would hold its run back: it is checked with a
		// PING even when no failure was seen yet (the hook learns of a dead
		// primary only from the next failing command). A report of success
		// is held only when Redis is known to be away; lost, it costs a
		// repeated run of a task whose record is already settled.
		if err != nil || g.down.lost() {
			g.waitForRedis(t)
		}
		return err
	})
}

// waitForRedis pings until Redis answers or maxHold passes. It ignores the
// task's context on purpose: the report must wait even when the task's own
// time is up.
func (g *redisGate) waitForRedis(t *asynq.Task) {
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), g.poll)
		err := g.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			if held := time.Since(start); held > g.poll {
				g.log.Debug("task report held until Redis answered", "task_type", t.Type(), "held", held.Round(time.Millisecond).String())
			}
			return
		}
		if time.Since(start) >= g.maxHold {
			g.log.Warn("Redis still unreachable; reporting the task anyway", "task_type", t.Type(), "held", g.maxHold.String())
			return
		}
		time.Sleep(g.poll)
	}
}

// connectionLost reports whether err says the connection to Redis (or any
// server) failed, rather than the work.
func connectionLost(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, redis.ErrClosed)
}

// redisHealth is a go-redis hook that notes, from every command the process
// sends (asynq's polling among them, every QUEUE_POLL_INTERVAL), whether
// the last one failed for want of a connection: within moments of a
// primary's death the gate knows, before the failover watch's next look.
type redisHealth struct{ down atomic.Bool }

// lost reports whether the last command failed on its connection.
func (h *redisHealth) lost() bool { return h.down.Load() }

// note takes an answer (a reply, redis.Nil or an error reply) as Redis
// being there, a connection failure as it being gone, and anything else
// (a context that ended) as news of neither.
func (h *redisHealth) note(err error) {
	var reply redis.Error
	switch {
	case err == nil || errors.Is(err, redis.Nil) || errors.As(err, &reply):
		h.set(false)
	case connectionLost(err):
		h.set(true)
	}
}

func (h *redisHealth) set(down bool) {
	if h.down.Load() != down {
		h.down.Store(down)
	}
}

// DialHook notes failed dials.
func (h *redisHealth) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.note(err)
		}
		return c, err
	}
}

// ProcessHook notes each command's outcome.
func (h *redisHealth) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.note(err)
		return err
	}
}

// ProcessPipelineHook notes each pipeline's outcome.
func (h *redisHealth) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.note(err)
		return err
	}
}
