package ratelimit

import "context"

type holderKey struct{}

// WithHolder returns a context under which Reserve and Wait may book a slot
// beyond MaxInPlaceWait as a ticket for holder, which its next Reserve or
// Wait (under the same holder and client) claims. The holder must name one
// unit of work that is retried under the same name, such as a queue task ID;
// two units sharing a name would take each other's tickets, which is safe
// but unfair.
func WithHolder(ctx context.Context, holder string) context.Context {
	return context.WithValue(ctx, holderKey{}, holder)
}
