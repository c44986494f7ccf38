package platform

import (
	"context"

	"github.com/adsync/adsync/internal/clock"
)

// retryInPlace reports whether a request that failed transiently gets its
// in-place retry n (from 0), having waited Options.InPlaceDelay(n) for it:
// false once Options.InPlaceRetries are spent, or if ctx ends during the
// wait.
func (c *Client) retryInPlace(ctx context.Context, n int) bool {
	return n < c.opts.InPlaceRetries && clock.Sleep(ctx, c.opts.InPlaceDelay(n)) == nil
}
