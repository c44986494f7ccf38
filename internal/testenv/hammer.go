package testenv

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Waiter is what Hammer drives: a rate limiter's blocking wait for one of a
// client's slots.
type Waiter interface {
	Wait(ctx context.Context, clientID string) error
}

// Hammer runs goroutinesPerClient goroutines for every client on every
// waiter (each waiter standing for a worker process), each sending as fast
// as Wait lets it until ctx ends. It returns every client's send times in
// order, and fails the test on any error of Wait other than ctx ending.
func Hammer(t testing.TB, ctx context.Context, waiters []Waiter, clients []string, goroutinesPerClient int) map[string][]time.Time {
	t.Helper()
	var (
		mu    sync.Mutex
		sends = map[string][]time.Time{}
		errs  []error
		wg    sync.WaitGroup
	)
	for _, w := range waiters {
		for _, id := range clients {
			for range goroutinesPerClient {
				wg.Go(func() {
					for {
						err := w.Wait(ctx, id)
						sent := time.Now()
						mu.Lock()
						if err == nil {
							sends[id] = append(sends[id], sent)
						} else if ctx.Err() == nil {
							errs = append(errs, err)
						}
						mu.Unlock()
						if err != nil {
							return
						}
					}
				})
			}
		}
	}
	wg.Wait()
	require.Empty(t, errs)
	for _, s := range sends {
		slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	}
	return sends
}

// RequireSlidingWindow fails the test when a window of length window holds
// more than limit of the sends (sorted in time), the rule the platform
// enforces.
func RequireSlidingWindow(t testing.TB, client string, sends []time.Time, limit int, window time.Duration) {
	t.Helper()
	for i := limit; i < len(sends); i++ {
		gap := sends[i].Sub(sends[i-limit])
		require.GreaterOrEqualf(t, gap, window,
			"client %s: sends %d and %d are %s apart: %d sends in less than one window", client, i-limit, i, gap, limit+1)
	}
}
