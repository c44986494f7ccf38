package platform

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/adsync/adsync/internal/clock"
)

// warmRecheck is the longest KeepTokens sleeps: it reads the client list
// again, so a client added while the process runs is warmed within this,
// and a fetch that failed is tried again after it.
const warmRecheck = 30 * time.Second

// warmParallel is how many token fetches KeepTokens makes at once: enough
// that a worker with hundreds of clients is ready within seconds, few
// enough not to look like a flood to the platform.
const warmParallel = 8

// KeepTokens fetches a token for every client that ids names, at once, and
// replaces each when it falls due (Options.RefreshBefore ahead of its
// expiry) until ctx ends, so that the first request of a run on an idle
// worker does not wait for a token fetch. /auth/token is not counted by the
// platform's rate limit, so this costs no budget. ids is called again at
// every pass (at least every 30 s), so clients added or removed while the
// process runs are followed; a fetch that fails is tried again at the next
// pass and logged once until it succeeds. Requests fetch a missing or stale
// token themselves, as before, so KeepTokens only takes that wait off their
// path.
func (c *Client) KeepTokens(ctx context.Context, ids func() []string) {
	var failing map[string]error // the last pass's failures, already logged
	for {
		next, failed := c.warm(ctx, ids())
		for id, err := range failed {
			if _, logged := failing[id]; !logged {
				c.opts.Logger.WarnContext(ctx, "platform: cannot fetch a token ahead of use", "client_id", id, "error", err)
			}
		}
		failing = failed
		wait := warmRecheck
		if !next.IsZero() {
			wait = min(wait, next.Sub(c.tokens.now()))
		}
		// A token due now is being replaced by a fetch in flight; sleeping a
		// moment keeps a pass from spinning on it.
		if clock.Sleep(ctx, max(wait, 100*time.Millisecond)) != nil {
			return
		}
	}
}

// warm makes sure every client of ids with credentials holds a token not
// yet due, warmParallel fetches at a time, and returns the earliest time
// one of them falls due (zero if none) and the fetches that failed.
func (c *Client) warm(ctx context.Context, ids []string) (next time.Time, failed map[string]error) {
	failed = map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, warmParallel)
	for _, id := range ids {
		creds, ok := c.opts.Credentials(id)
		if !ok {
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return next, failed
		}
		wg.Go(func() {
			defer func() { <-slots }()
			due, err := c.tokens.ensure(ctx, id, creds)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				failed[id] = err
			case err == nil && (next.IsZero() || due.Before(next)):
				next = due
			}
		})
	}
	wg.Wait()
	return next, failed
}
