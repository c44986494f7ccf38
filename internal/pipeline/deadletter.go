package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/store"
)

// settling wraps a handler with the policy: for each failed attempt,
// decide says whether the task goes back to the queue, is retried or is a
// dead letter, and settling makes it so. A client this worker does not
// know (unconfigured) and credentials the platform refused (refused) are
// first given their bounded wait in the queue. A dead letter is recorded in the
// ledger (and the item or page ended) before asynq archives the task, so
// no record is lost when asynq's bounded archive drops old tasks.
//
// Every task is enqueued with one asynq retry more than TASK_MAX_RETRY
// (tasks.Queue), which the policy never spends on a failure: asynq v0.26
// archives a task that errs on its last attempt whatever IsFailure says,
// so a task that must wait (for budget, for the database) goes back to the
// queue on every attempt, and none sleeps in its worker slot.
func (h *Handlers) settling(next asynq.HandlerFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		err := next(ctx, t)
		switch {
		case errors.Is(err, platform.ErrUnknownClient):
			err = h.unconfigured(ctx, t, err)
		case errors.Is(err, platform.ErrCredentialsRefused):
			err = h.refused(t, err)
		}
		if err == nil {
			return nil
		}
		retried, _ := asynq.GetRetryCount(ctx)
		switch d := h.decide(err, retried); d.verdict {
		case requeue:
			return h.requeue(ctx, t, d)
		case retry:
			h.taskLog(t).WarnContext(ctx, "task failed; will retry", "error", err.Error())
			return err
		}
		return h.deadLetter(ctx, t, err, retried)
	}
}

// decide is the policy's decide for this process: it notes a database
// outage that err shows, and the outage in progress sets a requeue's wait.
func (h *Handlers) decide(err error, retried int) decision {
	if errors.Is(err, store.ErrUnavailable) && !errors.Is(err, errPresumedDown) {
		h.dbOutage.seen(h.policy.backoffMin, h.policy.backoffMax)
	}
	return h.policy.decide(err, retried, h.dbOutage.age())
}

// requeue sends the task back to its queue, not as a failure.
func (h *Handlers) requeue(ctx context.Context, t *asynq.Task, d decision) error {
	clientID := refOf(t.Payload()).ClientID
	h.metrics.Requeued(clientID, d.delay)
	h.taskLog(t).DebugContext(ctx, "task back in the queue", "delay", d.delay, "cause", d.cause)
	return &RequeueError{ClientID: clientID, Delay: d.delay, Cause: d.cause}
}

// deadLetter records the task as a dead letter in the ledger and ends it:
// the returned error wraps asynq.SkipRetry, so asynq archives it. A ledger
// that cannot be written keeps the task: it waits for the database like
// any task that met an outage, or, on another error, fails and runs again
// while asynq has a retry left for it.
func (h *Handlers) deadLetter(ctx context.Context, t *asynq.Task, err error, retried int) error {
	ref := refOf(t.Payload())
	log := h.taskLog(t).With("error", err.Error())
	final := fmt.Errorf("%s: %w", reason(err), asynq.SkipRetry)
	if ref.RunID == 0 {
		log.ErrorContext(ctx, "task dead-lettered; its payload names no run, so only asynq's archive holds it")
		return final
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
		return h.requeue(ctx, t, h.decide(rerr, retried))
	} else if rerr != nil {
		log.ErrorContext(ctx, "cannot record dead letter; the task runs again if asynq has a retry left for it, "+
			"else asynq archives it and `enqueuer resume` records it", "record_error", rerr.Error())
		return fmt.Errorf("%s (and recording the dead letter failed: %v)", reason(err), rerr)
	}
	if d.ItemKey != "" {
		h.metrics.CampaignDead(ref.ClientID)
	}
	log.ErrorContext(ctx, "task dead-lettered", "reason", d.Reason)
	return final
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
