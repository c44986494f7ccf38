package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adsync/adsync/internal/platform"
)

// Compile-time proof that Metrics plugs into the platform client and its
// learned timeouts.
var (
	_ platform.Observer        = (*Metrics)(nil)
	_ platform.TimeoutObserver = (*Metrics)(nil)
)

func (m *Metrics) registerPlatform() {
	m.requests = m.counter("platform_requests_total",
		"Platform HTTP requests by client, endpoint (auth, list, sync) and outcome (ok, rate_limited, transient, permanent).",
		"client", "endpoint", "outcome")
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "platform_request_duration_seconds",
		Help: "Duration of platform HTTP requests, from sending to the end of the body, by endpoint.",
		// The platform's sync call takes 2 s at time scale 1 and a request
		// is cut at PLATFORM_TIMEOUT (10 s by default).
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5, 10, 30},
	}, []string{"endpoint"})
	m.registry.MustRegister(m.requestDuration)
	m.tokenRefreshes = m.counter("platform_token_refreshes_total",
		"Access tokens fetched from the platform, by client.", "client")
	m.hedges = m.counter("platform_hedges_total",
		"Second copies of slow platform requests sent from a spare slot of the client's budget, by client and endpoint.",
		"client", "endpoint")
	m.timeouts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "platform_timeout_seconds",
		Help: "Timeout a platform request is given now, by endpoint: learned from the latencies of successful requests, within PLATFORM_TIMEOUT_FLOOR and PLATFORM_TIMEOUT.",
	}, []string{"endpoint"})
	m.registry.MustRegister(m.timeouts)
}

// Request implements platform.Observer: one finished HTTP attempt.
func (m *Metrics) Request(clientID, endpoint string, outcome platform.Outcome, d time.Duration) {
	m.requests.WithLabelValues(clientID, endpoint, string(outcome)).Inc()
	m.requestDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// Timeout implements platform.TimeoutObserver: endpoint's requests are
// given d from now on.
func (m *Metrics) Timeout(endpoint string, d time.Duration) {
	m.timeouts.WithLabelValues(endpoint).Set(d.Seconds())
}

// Hedged implements platform.Observer: a second copy of a slow request sent.
func (m *Metrics) Hedged(clientID, endpoint string) {
	m.hedges.WithLabelValues(clientID, endpoint).Inc()
}

// TokenRefreshed implements platform.Observer: one token fetched.
func (m *Metrics) TokenRefreshed(clientID string) {
	m.tokenRefreshes.WithLabelValues(clientID).Inc()
}
