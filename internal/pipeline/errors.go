package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
)

// RequeueError puts a task back in its queue for Delay without counting a
// failed attempt: its client has no rate budget left until then, or the
// database is down, or this worker does not know the client yet.
type RequeueError struct {
	ClientID string
	Delay    time.Duration
	Cause    string
}

func (e *RequeueError) Error() string {
	return fmt.Sprintf("client %s: %s; back in the queue for %s", e.ClientID, e.Cause, e.Delay.Round(time.Millisecond))
}

// IsFailure is asynq's Config.IsFailure: a requeue is not a failure, so it
// neither uses up the retry budget nor shows as a failure in metrics.
func IsFailure(err error) bool {
	_, requeued := asRequeue(err)
	return !requeued
}

func asRequeue(err error) (*RequeueError, bool) {
	var rq *RequeueError
	ok := errors.As(err, &rq)
	return rq, ok
}

// verdict is what becomes of a task whose attempt failed.
type verdict int

const (
	// requeue sends the task back to its queue for a while, not counted
	// as a failure: nothing is wrong with the task.
	requeue verdict = iota + 1
	// retry counts a failure; asynq runs the task again after backoff.
	retry
	// deadLetter ends the task: it is recorded in the ledger, then asynq
	// archives it.
	deadLetter
)

// decision is decide's answer: the verdict, and for a requeue how long the
// task stays away and why.
type decision struct {
	verdict verdict
	delay   time.Duration
	cause   string
}

// decide is the one place that says what becomes of a task after its
// attempt returned err, having failed retried times before (asynq's retry
// count); outage is the age of the database outage in progress, zero when
// there is none.
//
// A task without rate budget stays away as long as the limiter says. A 429
// comes back at once: the limiter holds the client's requests off for the
// platform's wait and gives the task a slot after it. A task that could
// not reach the database stays away too, on every attempt, the last one
// included: an outage of adsync's own database says nothing about the
// record and must not dead-letter it. Records that can never succeed
// (invalid, refused by the platform, of a run that no longer exists) are
// dead letters at once. Anything else, unknown errors included, is a
// counted failure, retried until TASK_MAX_RETRY of them, then a dead
// letter: never lost, never retried without bound.
func (p Policy) decide(err error, retried int, outage time.Duration) decision {
	var nb *ratelimit.NoBudgetError
	var pe *platform.Error
	switch rq, ok := asRequeue(err); {
	case ok:
		return decision{verdict: requeue, delay: rq.Delay, cause: rq.Cause}
	case errors.As(err, &nb):
		return decision{verdict: requeue, delay: nb.ComeBackIn, cause: "rate budget spent"}
	case errors.Is(err, store.ErrUnavailable):
		return decision{verdict: requeue, delay: p.outageWait(outage), cause: err.Error()}
	case errors.As(err, &pe) && pe.Kind == platform.KindRateLimited:
		return decision{verdict: requeue, cause: "platform answered 429"}
	case errors.As(err, &pe) && pe.Kind == platform.KindPermanent,
		errors.Is(err, campaign.ErrInvalid), errors.Is(err, store.ErrRunNotFound), errors.Is(err, asynq.SkipRetry):
		return decision{verdict: deadLetter}
	case retried >= p.maxRetry:
		return decision{verdict: deadLetter}
	}
	return decision{verdict: retry}
}
