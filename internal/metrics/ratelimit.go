package metrics

import (
	"time"

	"github.com/adsync/adsync/internal/ratelimit"
)

// Compile-time proof that Metrics plugs into the rate limiter.
var _ ratelimit.Observer = (*Metrics)(nil)

func (m *Metrics) registerRateLimit() {
	m.rateWait = m.histogram("ratelimit_wait_seconds",
		"Wait before a booked platform request may be sent (0 when at once), all clients.",
		[]float64{0, .01, .05, .1, .25, .5, 1, 2, 5, 10})
	m.rateWaitedSecs = m.counter("ratelimit_wait_seconds_total",
		"Time spent waiting in place for a client's rate budget, by client.", "client")
	m.rateNoBudget = m.counter("ratelimit_no_budget_total",
		"Requests not booked because the client's next free slot was further away than RATE_WAIT_IN_PLACE (the task is requeued), by client.",
		"client")
	m.rateGaveUp = m.counter("ratelimit_slots_given_up_total",
		"Booked slots given up because the request would have gone out later than half of PLATFORM_RATE_MARGIN after them (the margin is too small for this machine, or it is starved of CPU), by client.",
		"client")
}

// Waited implements ratelimit.Observer: a send booked after d.
func (m *Metrics) Waited(clientID string, d time.Duration) {
	m.rateWait.Observe(d.Seconds())
	m.rateWaitedSecs.WithLabelValues(clientID).Add(d.Seconds())
}

// NoBudget implements ratelimit.Observer: the caller is sent away, its slot
// is d away.
func (m *Metrics) NoBudget(clientID string, _ time.Duration) {
	m.rateNoBudget.WithLabelValues(clientID).Inc()
}

// GaveUp implements ratelimit.Observer: a slot given up, its caller late.
func (m *Metrics) GaveUp(clientID string, _ time.Duration) {
	m.rateGaveUp.WithLabelValues(clientID).Inc()
}
