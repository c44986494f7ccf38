package ratelimit

import (
	"fmt"
	"time"
)

// NoBudgetError is returned by Reserve and Wait when the client's next free
// slot is further away than Options.MaxInPlaceWait. Nothing was booked, so
// the caller loses nothing by putting its work back in the queue for Wait
// and trying again then. Match it with errors.As.
type NoBudgetError struct {
	// ClientID is the platform client whose budget is used up.
	ClientID string
	// Wait is how long until the next free slot, as seen at the decision;
	// other callers may take that slot in the meantime.
	Wait time.Duration
}

// Error says which client has no budget and for how long.
func (e *NoBudgetError) Error() string {
	return fmt.Sprintf("ratelimit: no request budget for client %q for %s", e.ClientID, e.Wait)
}
