package platform

import (
	"context"
	"errors"
	"time"

	"github.com/adsync/adsync/internal/clock"
)

// retryInPlace reports whether a request that failed transiently gets its
// in-place retry n (from 0), having waited Options.InPlaceDelay(n) for it:
// false once Options.InPlaceRetries are spent, or if ctx ends during the
// wait.
func (c *Client) retryInPlace(ctx context.Context, n int) bool {
	return n < c.opts.InPlaceRetries && clock.Sleep(ctx, c.opts.InPlaceDelay(n)) == nil
}

// retryIn returns a copy of a transient failure whose RetryAfter says when
// its retry can go, if the limiter's refusal says so (a method RetryIn, as
// ratelimit.NoBudgetError has): the caller's retry then comes back for the
// slot booked for it instead of asking for budget before it.
func (e *Error) retryIn(refusal error) *Error {
	var later interface{ RetryIn() time.Duration }
	if !errors.As(refusal, &later) {
		return e
	}
	cp := *e
	cp.RetryAfter = later.RetryIn()
	return &cp
}
