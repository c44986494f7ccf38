package pipeline

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// RetryDelay is asynq's Config.RetryDelayFunc: a requeue waits exactly its
// delay; a failure backs off exponentially from min to max with jitter.
// Written by hand because asynq asks for a stateless function of the retry
// count, while backoff libraries keep state per operation.
func RetryDelay(min, max time.Duration) asynq.RetryDelayFunc {
	return func(n int, err error, _ *asynq.Task) time.Duration {
		var rq *RequeueError
		if errors.As(err, &rq) {
			return rq.Delay
		}
		return backoff(n, min, max, jitter())
	}
}

// backoff is min·2ⁿ capped at max, scaled by j in [0.5, 1) ("equal
// jitter"): spread out, yet never less than half the nominal delay.
func backoff(n int, min, max time.Duration, j float64) time.Duration {
	d := max
	if n < 62 && min<<n > 0 && min<<n < max {
		d = min << n
	}
	return time.Duration(float64(d) * j)
}

// jitter returns a factor in [0.5, 1) for backoff.
func jitter() float64 { return 0.5 + rand.Float64()/2 } // #nosec G404 -- spreading retries needs no cryptographic randomness
