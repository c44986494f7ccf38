package pipeline

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/platform"
)

// Policy is adsync's one retry policy. Every wait and bound of a task's
// retries is derived from it: asynq's backoff (RetryDelay), the platform
// client's in-place retries (InPlaceRetries, InPlaceDelay), the wait of a
// task that met a database outage, the task timeout (TaskTimeout), and the
// point where a failure is final (decide). Changing the policy is changing
// this file and the configuration it reads. Build it with NewPolicy; the
// zero Policy retries nothing and waits for nothing.
type Policy struct {
	// maxRetry is TASK_MAX_RETRY: the counted failures after which a
	// task's next failure is a dead letter.
	maxRetry int
	// backoffMin and backoffMax are RETRY_BACKOFF_MIN and _MAX: the first
	// wait of every kind of retry, and the most any wait grows to.
	backoffMin, backoffMax time.Duration
	// platformTimeout and rateWaitInPlace (PLATFORM_TIMEOUT,
	// RATE_WAIT_IN_PLACE) bound one run of a task, with the retries above.
	platformTimeout, rateWaitInPlace time.Duration
}

// NewPolicy reads the policy from the configuration.
func NewPolicy(cfg config.Config) Policy {
	return Policy{
		maxRetry:        cfg.TaskMaxRetry,
		backoffMin:      cfg.RetryBackoffMin,
		backoffMax:      max(cfg.RetryBackoffMax, cfg.RetryBackoffMin),
		platformTimeout: cfg.PlatformTimeout,
		rateWaitInPlace: cfg.RateWaitInPlace,
	}
}

// inPlaceRetries is how many times a worker retries a transiently failed
// platform request before the task goes back to the queue for its retry.
// Two: the reference platform fails every fifth list call, so a retry fails
// again one time in five, and two in a row one time in 25; each in-place
// retry holds a worker slot for about RETRY_BACKOFF_MIN, then twice that.
const inPlaceRetries = 2

// MaxRetry is TASK_MAX_RETRY: how many counted failures a task may have
// before its next one makes it a dead letter.
func (p Policy) MaxRetry() int { return p.maxRetry }

// InPlaceRetries is the platform client's Options.InPlaceRetries.
func (p Policy) InPlaceRetries() int { return inPlaceRetries }

// InPlaceDelay is the platform client's Options.InPlaceDelay: retry n
// (from 0) of a transiently failed request waits the backoff of n, the
// same curve as a task's retries, only never more than a few of its steps.
func (p Policy) InPlaceDelay(n int) time.Duration { return p.backoff(n) }

// RetryDelay is asynq's Config.RetryDelayFunc: a requeue waits exactly its
// delay; the nth counted failure backs off exponentially from
// RETRY_BACKOFF_MIN to RETRY_BACKOFF_MAX, jittered, and comes back no
// sooner than the platform client says its retry can be sent (a transient
// failure whose in-place retry found its slot booked further away). Written
// by hand because asynq asks for a stateless function of the retry count,
// while backoff libraries keep state per operation.
func (p Policy) RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if rq, ok := asRequeue(err); ok {
		return rq.Delay
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Kind == platform.KindTransient {
		return max(p.backoff(n), pe.RetryAfter)
	}
	return p.backoff(n)
}

// TaskTimeout bounds one run of a task: its requests, each cut at
// PLATFORM_TIMEOUT (the first, one after a 401 with its token fetch, and
// the in-place retries), an in-place rate-limit wait before each, the
// in-place retries' waits, and the database write.
func (p Policy) TaskTimeout() time.Duration {
	counted := 2 + inPlaceRetries
	var pauses time.Duration
	for n := range inPlaceRetries {
		pauses += p.backoffMin << n // the most InPlaceDelay(n) waits
	}
	return time.Duration(counted+2)*p.platformTimeout + time.Duration(counted)*p.rateWaitInPlace + pauses + 30*time.Second
}

// outageWait is how long a task that met a database outage of the given
// age stays away: RETRY_BACKOFF_MIN at first, then up to half the
// outage's age so far (jittered), at most RETRY_BACKOFF_MAX. A task
// therefore comes back at most about half the outage's length after the
// database does, and a long outage does not cycle every queued task
// through the queue once per RETRY_BACKOFF_MIN. asynq's retry count cannot
// drive it: the attempts spent on an outage are not counted.
func (p Policy) outageWait(age time.Duration) time.Duration {
	return min(max(p.backoffMin, jitter(age/2)), p.backoffMax)
}

// backoff is RETRY_BACKOFF_MIN·2ⁿ, capped at RETRY_BACKOFF_MAX, jittered.
func (p Policy) backoff(n int) time.Duration {
	d := p.backoffMax
	if n < 62 && p.backoffMin<<n > 0 && p.backoffMin<<n < p.backoffMax {
		d = p.backoffMin << n
	}
	return jitter(d)
}

// jitter spreads a wait of d over [d/2, d] ("equal jitter"), so that the
// tasks or requests one burst of failures hit do not all come back at the
// same moment, yet none comes back much sooner than d says.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d-d/2+1) // #nosec G404 -- spreading retries needs no cryptographic randomness
}
