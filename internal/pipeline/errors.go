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
// failed attempt: its client has no rate budget left until then.
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
	var rq *RequeueError
	return !errors.As(err, &rq)
}

// waits are the delays of the requeues that classify decides.
type waits struct {
	// lead is how much earlier than a 429's wait ends the task comes back,
	// so that it is already running and sleeps the last stretch in place
	// instead of arriving late.
	lead time.Duration
	// storeDown is how long a task that could not reach the database stays
	// away before it tries again, at first; storeDownMax is the most it
	// grows to during a long outage.
	storeDown, storeDownMax time.Duration
	// unconfigured is how long after its run started a task whose client
	// this worker does not know keeps coming back (unconfigured.go).
	unconfigured time.Duration
}

// classify maps a handler error to its asynq outcome. It is the single
// place where that policy lives. A task without rate budget stays away as
// long as the limiter says. A task that could not reach the database stays
// away too, without spending a retry: an outage of adsync's own database
// says nothing about the record, and must not dead-letter it.
func classify(err error, clientID string, w waits) error {
	if err == nil {
		return nil
	}
	var nb *ratelimit.NoBudgetError
	if errors.As(err, &nb) {
		return &RequeueError{ClientID: clientID, Delay: nb.ComeBackIn, Cause: "rate budget spent"}
	}
	if errors.Is(err, store.ErrUnavailable) {
		return &RequeueError{ClientID: clientID, Delay: w.storeDown, Cause: err.Error()}
	}
	if errors.Is(err, campaign.ErrInvalid) || errors.Is(err, store.ErrRunNotFound) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	switch platform.KindOf(err) {
	case platform.KindRateLimited:
		var pe *platform.Error
		wait := time.Minute
		if errors.As(err, &pe) && pe.RetryAfter > 0 {
			wait = pe.RetryAfter
		}
		return &RequeueError{ClientID: clientID, Delay: max(wait-w.lead, 0), Cause: "platform answered 429"}
	case platform.KindPermanent:
		var pe *platform.Error
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
	}
	return err
}
