package ratelimit

import (
	"fmt"
	"time"
)

// NoBudgetError is returned by Reserve and Wait when the client's next free
// slot is further away than Options.MaxInPlaceWait, so that the caller can
// put its work back in the queue for ComeBackIn rather than hold a worker.
// Match it with errors.As.
type NoBudgetError struct {
	// ClientID is the platform client whose budget is used up.
	ClientID string
	// Wait is how long until the slot: the caller's ticket if Booked,
	// else the next free slot as seen at the decision, which other callers
	// may take in the meantime.
	Wait time.Duration
	// Booked says the slot is the holder's ticket (see WithHolder), kept
	// for it until it asks again.
	Booked bool
	// ComeBackIn is how long to stay away before asking again: a little
	// less than Wait, so that the caller is back before its slot.
	ComeBackIn time.Duration
}

// RetryIn is ComeBackIn, for callers that match the refusal by this method
// rather than import this package (the platform client).
func (e *NoBudgetError) RetryIn() time.Duration { return e.ComeBackIn }

// Error says which client has no budget and for how long.
func (e *NoBudgetError) Error() string {
	return fmt.Sprintf("ratelimit: no request budget for client %q for %s", e.ClientID, e.Wait)
}
