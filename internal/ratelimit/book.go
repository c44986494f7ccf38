package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Book books the client's next free slots, one per holder in order (the
// urgent ones first, see WithUrgentHolder), as the holders' tickets, and
// returns for each how long its work should stay out of the queue: until
// returnLead before its slot, so that it comes back in time to claim the
// slot in Wait and sleep the rest in place. No slot is booked sooner than
// startLead from now, so that work created now has that long to come out
// of a busy queue.
// A holder that already has a ticket keeps it, so booking the same work
// again (a retried fan-out) books nothing new.
//
// It is how work that is fanned out (a page's saves, the pages it reveals,
// a resumed run) is given its place in line when it is created: each task
// is queued for its own slot instead of queueing at once and cycling
// through the queue for budget it cannot have yet. A slot booked for work
// that never comes (cancelled, deleted by hand) is spent for nothing; it is
// never an extra send.
func (l *Limiter) Book(ctx context.Context, clientID string, urgent, holders []string) ([]time.Duration, error) {
	if clientID == "" {
		return nil, fmt.Errorf("ratelimit: book: %w", ErrEmptyClientID)
	}
	n := len(urgent) + len(holders)
	if n == 0 {
		return nil, nil
	}
	lead := l.returnLead()
	args := make([]any, 0, 9+n)
	args = append(args, l.opts.Limit, l.span, expirySlack.Milliseconds(), l.fenceFor(clientID), l.now(), l.gap,
		l.startLead().Microseconds(), len(urgent), l.spread(l.gap))
	for _, h := range urgent {
		args = append(args, h)
	}
	for _, h := range holders {
		args = append(args, h)
	}
	res, err := bookScript.Run(ctx, l.rdb, l.keys(clientID), args...).Int64Slice()
	if err == nil && len(res) != n {
		err = fmt.Errorf("unexpected script reply of %d slots", len(res))
	}
	if err != nil {
		return nil, fmt.Errorf("ratelimit: book %d sends for client %q: %w", n, clientID, err)
	}
	due := make([]time.Duration, len(res))
	for i, slot := range res {
		due[i] = max(time.Duration(slot)*time.Microsecond-lead, 0)
	}
	return due, nil
}
