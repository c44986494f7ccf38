package platform

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// noAnswer is why a request was cut: its own timeout passed without an
// answer. It wraps context.DeadlineExceeded, so the cut is transient.
type noAnswer struct{ after time.Duration }

func (n noAnswer) Error() string {
	return fmt.Sprintf("no answer within %s: %s", n.after, context.DeadlineExceeded)
}

func (n noAnswer) Unwrap() error { return context.DeadlineExceeded }

// deadline is one request's timeout, which may still shorten while the
// request is in flight: a request sent before its endpoint's latency was
// learned (the first ones after a cold start) is given the ceiling, and a
// platform that never answers it would hold it that long although the
// answers of the requests sent beside it show, a few milliseconds later,
// how long an answer takes. A context deadline cannot move, hence a timer
// that cancels the request's context with noAnswer as the cause.
type deadline struct {
	start   time.Time
	timeout atomic.Int64 // nanoseconds
	timer   *time.Timer
}

// startDeadline bounds ctx to timeout from now; the returned context ends
// with cause noAnswer when the (possibly shortened) timeout passes. stop
// releases the timer.
func startDeadline(parent context.Context, timeout time.Duration) (ctx context.Context, d *deadline, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	d = &deadline{start: time.Now()}
	d.timeout.Store(int64(timeout))
	d.timer = time.AfterFunc(timeout, func() { cancel(noAnswer{after: d.current()}) })
	return ctx, d, func() {
		d.timer.Stop()
		cancel(nil)
	}
}

// current is the timeout in force.
func (d *deadline) current() time.Duration { return time.Duration(d.timeout.Load()) }

// shorten makes the timeout to, counted from the request's start, if that
// is shorter than the one in force; a timeout already passed cuts the
// request at once.
func (d *deadline) shorten(to time.Duration) {
	if to >= d.current() {
		return
	}
	d.timeout.Store(int64(to))
	d.timer.Reset(max(time.Until(d.start.Add(to)), 0))
}

// cutBy reports the timeout that cut the request under ctx, if one did and
// not its caller (parent).
func cutBy(parent, ctx context.Context) (noAnswer, bool) {
	var n noAnswer
	if parent.Err() != nil {
		return n, false
	}
	cause, ok := context.Cause(ctx).(noAnswer)
	return cause, ok
}
