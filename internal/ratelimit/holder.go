package ratelimit

import "context"

type holderKey struct{}

// holder is who asks for a slot, and whether it is urgent.
type holder struct {
	id     string
	urgent bool
}

// WithHolder returns a context under which Reserve and Wait may book a slot
// beyond MaxInPlaceWait as a ticket for holder, which its next Reserve or
// Wait (under the same holder and client) claims. The holder must name one
// unit of work that is retried under the same name, such as a queue task ID;
// two units sharing a name would take each other's tickets, which is safe
// but unfair.
func WithHolder(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, holderKey{}, holder{id: id})
}

// WithUrgentHolder is WithHolder for work that other work waits on (a page,
// which reveals the records to save). An urgent holder that needs a slot
// again (its request failed and is retried) takes the earliest slot booked
// for work that is not urgent, instead of one at the end of the line: a
// page retried behind every save of the run would hold its own saves back
// until after them.
func WithUrgentHolder(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, holderKey{}, holder{id: id, urgent: true})
}
