package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/clock"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/store"
)

// deadLettering wraps a handler with the bookkeeping of failures: it logs
// each failed attempt, and when asynq is about to archive the task (a
// permanent error, or the last retry spent) it first records the dead letter
// and ends the item or page in the ledger, so no record is lost when asynq's
// bounded archive drops old tasks.
func (h *Handlers) deadLettering(next asynq.HandlerFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		for {
			err := next(ctx, t)
			if errors.Is(err, platform.ErrUnknownClient) {
				err = h.unconfigured(ctx, t, err)
			}
			if err == nil {
				return nil
			}
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			var rq *RequeueError
			if !errors.As(err, &rq) {
				err = h.failed(ctx, t, err, errors.Is(err, asynq.SkipRetry) || retried >= maxRetry)
				if !errors.As(err, &rq) {
					return err
				}
			}
			h.metrics.Requeued(rq.ClientID, rq.Delay)
			h.taskLog(t).DebugContext(ctx, "task back in the queue", "delay", rq.Delay, "cause", rq.Cause)
			if retried < maxRetry {
				return err
			}
			// asynq archives a task that errs on its last attempt whatever
			// IsFailure says, so the last attempt waits in place instead.
			if werr := clock.Sleep(ctx, rq.Delay); werr != nil {
				return werr
			}
		}
	}
}

func (h *Handlers) failed(ctx context.Context, t *asynq.Task, err error, final bool) error {
	ref := refOf(t.Payload())
	log := h.taskLog(t).With("error", err.Error())
	if !final {
		log.WarnContext(ctx, "task failed; will retry")
		return err
	}
	if ref.RunID == 0 {
		log.ErrorContext(ctx, "task dead-lettered; its payload names no run, so only asynq's archive holds it")
		return err
	}
	d := store.DeadLetter{TaskID: taskID(ctx), TaskType: t.Type(), RunID: ref.RunID, ClientID: ref.ClientID,
		ItemKey: ref.ItemKey, Page: ref.Page, Reason: reason(err), Payload: t.Payload()}
	if d.ItemKey != "" {
		d.Page = 0
	}
	// The ledger write must not be cut short by the task's own deadline.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if rerr := h.store.RecordDeadLetter(rctx, d); errors.Is(rerr, store.ErrUnavailable) {
		log.WarnContext(ctx, "cannot record dead letter yet; the task waits for the database", "record_error", rerr.Error())
		return h.outcome(rerr, ref.ClientID)
	} else if rerr != nil {
		log.ErrorContext(ctx, "cannot record dead letter; the task runs again if it has retries left, "+
			"else asynq archives it and `enqueuer resume` records it", "record_error", rerr.Error())
		return fmt.Errorf("%s (and recording the dead letter failed: %v)", reason(err), rerr)
	}
	if d.ItemKey != "" {
		h.metrics.CampaignDead(ref.ClientID)
	}
	log.ErrorContext(ctx, "task dead-lettered", "reason", d.Reason)
	return err
}

// taskLog is the logger for lines about one task: its client, run, and
// page or campaign. Lines logged with the task's context also carry its id
// and attempt (package logging).
func (h *Handlers) taskLog(t *asynq.Task) *slog.Logger {
	ref := refOf(t.Payload())
	return h.log.With("client", ref.ClientID, "run", ref.RunID, "page", ref.Page, "campaign", ref.ItemKey)
}

// reason is the error text without asynq's "skip retry" suffix.
func reason(err error) string {
	msg := err.Error()
	suffix := ": " + asynq.SkipRetry.Error()
	if len(msg) > len(suffix) && msg[len(msg)-len(suffix):] == suffix {
		return msg[:len(msg)-len(suffix)]
	}
	return msg
}

// taskRef is what every payload says about where the task belongs.
type taskRef struct {
	RunID    int64  `json:"run_id"`
	ClientID string `json:"client_id"`
	Page     int    `json:"page"`
	ItemKey  string `json:"item_key"`
}

func refOf(payload []byte) taskRef {
	var r taskRef
	_ = json.Unmarshal(payload, &r) // a malformed payload leaves the zero ref, handled by the caller
	return r
}
