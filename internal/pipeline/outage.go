package pipeline

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/adsync/adsync/internal/store"
)

// outage remembers, for one worker process, until when the database is
// presumed unavailable after a task found it so. Save tasks check it before
// their sync call: while PostgreSQL is down, a record could not be stored,
// and the call would spend the client's rate budget for nothing, again at
// every requeue.
type outage struct{ until atomic.Int64 }

// seen records an outage that is presumed to last d more.
func (o *outage) seen(d time.Duration) { o.until.Store(time.Now().Add(d).UnixNano()) }

// presumed reports whether the database was found unavailable recently.
func (o *outage) presumed() bool { return time.Now().UnixNano() < o.until.Load() }

// outcome is classify for the handlers' tasks, noting any database outage
// it meets.
func (h *Handlers) outcome(err error, clientID string) error {
	if errors.Is(err, store.ErrUnavailable) {
		h.dbOutage.seen(h.waits.storeDown)
	}
	return classify(err, clientID, h.waits)
}
