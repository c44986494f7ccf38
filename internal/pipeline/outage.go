package pipeline

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/adsync/adsync/internal/store"
)

// outage remembers, for one worker process, that the database was found
// unavailable. Save tasks check it before their sync call: while
// PostgreSQL is down, a record could not be stored, and the call would
// spend the client's rate budget for nothing, again at every requeue. It
// also makes tasks stay away longer the longer the outage lasts, so that a
// long one does not cycle every queued task through the queue once per
// StoreDownWait.
type outage struct {
	// until is when the presumption lapses and a task tries the database
	// again (unix nanoseconds).
	until atomic.Int64
	// since is when the current outage was first met (unix nanoseconds);
	// 0 once the database has answered since.
	since atomic.Int64
	now   func() time.Time // time.Now; a test's clock
}

// seen records that a task found the database unavailable; the other tasks
// presume it down for d more. An outage not seen for longer than stale is
// over, even if no task has reached the database since.
func (o *outage) seen(d, stale time.Duration) {
	now := o.clock()
	if last := o.until.Load(); last != 0 && now.UnixNano() > last+int64(stale) {
		o.since.Store(0)
	}
	o.since.CompareAndSwap(0, now.UnixNano())
	o.until.Store(now.Add(d).UnixNano())
}

// over records that the database answered: the next outage starts afresh.
func (o *outage) over() {
	if o.since.Load() != 0 {
		o.since.Store(0)
	}
}

// ongoing reports whether an outage was met and the database has not
// answered since.
func (o *outage) ongoing() bool { return o.since.Load() != 0 }

// presumed reports whether the database was found unavailable recently.
func (o *outage) presumed() bool { return o.clock().UnixNano() < o.until.Load() }

// wait is how long a task that met the outage stays away: base at first,
// then up to half the outage's age so far (jittered), at most ceiling. A
// task therefore comes back at most about half the outage's length after
// the database does. Written by hand like RetryDelay: the attempts spent
// on an outage are not counted, so asynq's retry count cannot drive it.
func (o *outage) wait(base, ceiling time.Duration) time.Duration {
	since := o.since.Load()
	if since == 0 {
		return base
	}
	age := o.clock().Sub(time.Unix(0, since))
	return min(max(base, time.Duration(float64(age/2)*jitter())), ceiling)
}

func (o *outage) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

// outcome is classify for the handlers' tasks, noting any database outage
// it meets.
func (h *Handlers) outcome(err error, clientID string) error {
	if errors.Is(err, store.ErrUnavailable) {
		h.dbOutage.seen(h.waits.storeDown, h.waits.storeDownMax)
	}
	return classify(err, clientID, h.currentWaits())
}

// currentWaits are the handlers' waits with the store-down wait grown by
// the outage in progress, if any.
func (h *Handlers) currentWaits() waits {
	w := h.waits
	w.storeDown = h.dbOutage.wait(w.storeDown, w.storeDownMax)
	return w
}
