package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Hedge books a slot for a second copy of a request that is taking longer
// than usual, and reports whether it did. It books only a slot that is free
// now, and only when nothing of the client is booked after now (no queued
// work holds a ticket, no send waits in place) and nothing was sent within
// quiet before now: a request that recent may still fail and need a slot
// for its retry, or be a page that reveals work needing slots. At the end
// of a run, when the client's remaining work fits in the budget left, a
// copy then costs no other request any time. A booked hedge counts like
// any send.
func (l *Limiter) Hedge(ctx context.Context, clientID string, quiet time.Duration) (bool, error) {
	if clientID == "" {
		return false, fmt.Errorf("ratelimit: hedge: %w", ErrEmptyClientID)
	}
	ok, err := hedgeScript.Run(ctx, l.rdb, l.keys(clientID),
		l.opts.Limit, l.span, expirySlack.Milliseconds(), l.fenceFor(clientID), l.now(), l.gap, quiet.Microseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("ratelimit: hedge for client %q: %w", clientID, err)
	}
	return ok == 1, nil
}
