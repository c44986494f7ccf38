package mock

import (
	"net/http"
	"time"
)

// Endpoint names used as keys of ClientStats.Requests.
const (
	// EndpointAuth is POST /auth/token.
	EndpointAuth = "auth"
	// EndpointList is GET /api/campaigns.
	EndpointList = "list"
	// EndpointSync is POST /api/campaigns/{id}/sync.
	EndpointSync = "sync"
)

// Outcomes besides HTTP status codes, used as keys of the inner maps of
// ClientStats.Requests.
const (
	// OutcomeHang counts requests that got no answer on purpose.
	OutcomeHang = "hang"
	// OutcomeCanceled counts sync calls whose client went away (or the
	// server closed) during the sync delay.
	OutcomeCanceled = "canceled"
)

// endpoint indexes the counted endpoints.
type endpoint int

const (
	epAuth endpoint = iota
	epList
	epSync
	endpointCount
)

// endpointNames are the JSON names of the endpoints.
var endpointNames = [endpointCount]string{EndpointAuth, EndpointList, EndpointSync}

// Stats is what GET /__mock/stats answers: per client counts that tests use
// to prove how a client behaved, such as never more than the limit inside
// one window.
type Stats struct {
	// Clients maps an X-Client-ID to its counts; only clients seen since
	// the last reset appear.
	Clients map[string]ClientStats `json:"clients"`
	// Waiting is how many requests are hung or inside the sync delay right
	// now; it drops to 0 once their clients gave up.
	Waiting int64 `json:"waiting"`
}

// ClientStats are the counts of one client since the last reset.
type ClientStats struct {
	// Requests maps an endpoint (EndpointAuth, EndpointList, EndpointSync)
	// to outcome counts: the HTTP status as a string ("200", "429", ...),
	// OutcomeHang or OutcomeCanceled.
	Requests map[string]map[string]int64 `json:"requests"`
	// Counted is the admitted /api requests: those that entered the rate
	// window, whatever was answered after.
	Counted int64 `json:"counted"`
	// RateLimited is the /api requests refused with 429.
	RateLimited int64 `json:"rate_limited"`
	// Hangs is the /api requests that got no answer on purpose.
	Hangs int64 `json:"hangs"`
	// MaxInWindow is the most /api arrivals, admitted or refused, seen
	// inside any one rate window: a client that respects the limit keeps
	// it at or below the limit.
	MaxInWindow int64 `json:"max_in_window"`
	// TightestSpan is the shortest time, on the mock's clock, from an /api
	// arrival to the RateLimit-th arrival after it. A client that respects
	// the limit keeps it at or above the rate window, and what it has above
	// the window is the part of its safety margin that latency left
	// unused. It is 0 until the client made more than RateLimit arrivals,
	// and when the mock has no limit.
	TightestSpan time.Duration `json:"tightest_span_ns,omitempty"`
	// FirstArrival and LastArrival bound the client's /api arrivals.
	FirstArrival time.Time `json:"first_arrival,omitzero"`
	// LastArrival is the latest /api arrival.
	LastArrival time.Time `json:"last_arrival,omitzero"`
}

// counters are a client's mutable counts, guarded by client.mu.
type counters struct {
	requests                                 [endpointCount]map[string]int64
	counted, rateLimited, hangs, maxInWindow int64
	tightest                                 time.Duration
	spanned                                  bool // tightest has been measured
	first, last                              time.Time
}

// add counts one outcome of an endpoint.
func (st *counters) add(ep endpoint, outcome string) {
	if st.requests[ep] == nil {
		st.requests[ep] = map[string]int64{}
	}
	st.requests[ep][outcome]++
}

// count records one outcome of a client's request.
func (c *client) count(ep endpoint, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.add(ep, outcome)
}

// countHang records a request the mock will not answer.
func (c *client) countHang(ep endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.hangs++
	c.stats.add(ep, OutcomeHang)
}

// snapshot deep-copies the counts; ok is false when there is nothing to
// report.
func (c *client) snapshot() (cs ClientStats, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.stats
	cs = ClientStats{
		Requests:     map[string]map[string]int64{},
		Counted:      st.counted,
		RateLimited:  st.rateLimited,
		Hangs:        st.hangs,
		MaxInWindow:  st.maxInWindow,
		TightestSpan: st.tightest,
		FirstArrival: st.first.UTC(),
		LastArrival:  st.last.UTC(),
	}
	for ep, outcomes := range st.requests {
		if len(outcomes) == 0 {
			continue
		}
		m := make(map[string]int64, len(outcomes))
		for k, v := range outcomes {
			m[k] = v
		}
		cs.Requests[endpointNames[ep]] = m
	}
	return cs, len(cs.Requests) > 0 || !st.first.IsZero()
}

// Stats returns a deep copy of the statistics: the caller may keep and
// change it.
func (s *Server) Stats() Stats {
	out := Stats{Clients: map[string]ClientStats{}, Waiting: s.waiting.Load()}
	s.clients.Range(func(_, v any) bool {
		c := v.(*client)
		if cs, ok := c.snapshot(); ok {
			out.Clients[c.id] = cs
		}
		return true
	})
	return out
}

// Reset clears the statistics, the rate windows, the hang sequences and the
// 503 counter, so one mock serves many test scenarios. Grown catalogues
// stay grown.
func (s *Server) Reset() {
	s.listCount.Store(0)
	s.clients.Range(func(_, v any) bool {
		c := v.(*client)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.resetLocked(s.cfg.Seed)
		return true
	})
}

// handleStats serves GET /__mock/stats.
func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// handleReset serves POST /__mock/reset.
func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
}
