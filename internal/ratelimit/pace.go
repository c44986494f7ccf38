package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Pace plans n new sends of the client at the pace its budget can serve
// them, Limit per Window+Margin, starting at its next free slot or where the
// previous plan ended, whichever is later. ahead sends that go at once
// (such as the pages that reveal the work) come first in the plan, so that
// it does not count on the slots they take. It returns, for each of the n
// sends, how long its work should stay out of the queue: until shortly
// before its planned slot (returnLead), so that it arrives early enough to
// sleep the rest in place.
//
// Work queued all at once instead would mostly find no budget and cycle
// through the queue, and on a busy queue the tasks coming back for booked
// slots would wait behind it and miss them. The plan books nothing and is
// only advice: each send still goes through Wait, which alone decides when
// it may go.
func (l *Limiter) Pace(ctx context.Context, clientID string, ahead, n int) ([]time.Duration, error) {
	if clientID == "" {
		return nil, fmt.Errorf("ratelimit: pace: %w", ErrEmptyClientID)
	}
	ahead, n = max(ahead, 0), max(n, 0)
	if ahead+n == 0 {
		return nil, nil
	}
	stamps, blocked, _ := l.keys(clientID)
	res, err := paceScript.Run(ctx, l.rdb, []string{stamps, blocked, l.paceKey(clientID), l.primaryKey(clientID)},
		l.opts.Limit, l.span, ahead+n, expirySlack.Milliseconds(), l.fenceFor(clientID)).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected script reply %v", res)
	}
	if err != nil {
		return nil, fmt.Errorf("ratelimit: pace %d sends for client %q: %w", n, clientID, err)
	}
	first, step := time.Duration(res[0])*time.Microsecond, time.Duration(res[1])*time.Microsecond
	lead := l.returnLead()
	delays := make([]time.Duration, n)
	for i := range delays {
		delays[i] = max(first+time.Duration(ahead+i)*step-lead, 0)
	}
	return delays, nil
}
