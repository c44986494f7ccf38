package pipeline

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/adsync/adsync/internal/clock"
	"github.com/adsync/adsync/internal/store"
)

// errPresumedDown is what a save task returns when it goes back to the
// queue on the presumption that the database is still down (outage), not
// having tried it: decide requeues it like any outage, but it is not noted
// as the outage met again, or the presumption would never lapse and the
// database never be tried again.
var errPresumedDown = fmt.Errorf("%w moments ago", store.ErrUnavailable)

// outage remembers, for one worker process, that the database was found
// unavailable. Save tasks check it before their sync call: while
// PostgreSQL is down, a record could not be stored, and the call would
// spend the client's rate budget for nothing, again at every requeue. Its
// age makes tasks stay away longer the longer the outage lasts
// (Policy.outageWait).
type outage struct {
	// until is when the presumption lapses and a task tries the database
	// again (unix nanoseconds).
	until atomic.Int64
	// since is when the current outage was first met (unix nanoseconds);
	// 0 once the database has answered since.
	since atomic.Int64
	// clock is clock.System, or a test's.
	clock clock.Clock
}

// seen records that a task found the database unavailable; the other tasks
// presume it down for presume more. An outage not seen for longer than
// stale is over, even if no task has reached the database since.
func (o *outage) seen(presume, stale time.Duration) {
	now := o.now()
	if last := o.until.Load(); last != 0 && now.UnixNano() > last+int64(stale) {
		o.since.Store(0)
	}
	o.since.CompareAndSwap(0, now.UnixNano())
	o.until.Store(now.Add(presume).UnixNano())
}

// over records that the database answered: the next outage starts afresh.
func (o *outage) over() {
	if o.since.Load() != 0 {
		o.since.Store(0)
	}
}

// presumed reports whether the database was found unavailable recently.
func (o *outage) presumed() bool { return o.now().UnixNano() < o.until.Load() }

// age is how long the outage in progress has lasted so far; zero when
// there is none.
func (o *outage) age() time.Duration {
	since := o.since.Load()
	if since == 0 {
		return 0
	}
	return o.now().Sub(time.Unix(0, since))
}

func (o *outage) now() time.Time {
	if o.clock != nil {
		return o.clock.Now()
	}
	return time.Now()
}
