package platform

import (
	"context"
	"math/rand/v2"
	"time"
)

// jittered spreads a wait of d over [d/2, d), so that the requests one
// burst of failures hit do not all come back at the same moment.
func jittered(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1) // #nosec G404 -- spreading retries needs no cryptographic randomness
}

// sleep waits d, or returns ctx's error if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
