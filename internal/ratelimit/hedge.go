package ratelimit

import (
	"context"
	"fmt"
)

// Hedge books a slot for a second copy of a request that is taking longer
// than usual, and reports whether it did. It books only a slot that is free
// now and only when nothing of the client is booked after now (no queued
// work holds a ticket, no send waits in place): at the end of a run, when
// the client's remaining work fits in the budget left, a copy costs no
// other request any time. A booked hedge counts like any send.
func (l *Limiter) Hedge(ctx context.Context, clientID string) (bool, error) {
	if clientID == "" {
		return false, fmt.Errorf("ratelimit: hedge: %w", ErrEmptyClientID)
	}
	ok, err := hedgeScript.Run(ctx, l.rdb, l.keys(clientID),
		l.opts.Limit, l.span, expirySlack.Milliseconds(), l.fenceFor(clientID), l.now(), l.gap).Int64()
	if err != nil {
		return false, fmt.Errorf("ratelimit: hedge for client %q: %w", clientID, err)
	}
	return ok == 1, nil
}
