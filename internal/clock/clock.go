// Package clock gives the time to code whose tests need to set it, and is
// the one place adsync waits on a timer that a context may cut short: the
// rate limiter's in-place wait, the platform client's in-place retry and
// the task policy's waits all sleep here.
package clock

import (
	"context"
	"time"
)

// Clock tells the time. Production code uses System; a test passes a
// clock it moves by hand, so that it can assert exact instants instead of
// wall-clock windows.
type Clock interface {
	Now() time.Time
}

// System is the machine's clock.
var System Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Sleep waits d, or until ctx ends, whichever comes first, and returns
// ctx's error in the second case. d <= 0 returns at once (with ctx's error
// if it has already ended).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
