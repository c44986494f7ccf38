package mock

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// timeQueue is a FIFO of arrival times (nanoseconds since the server's
// epoch) in a growable ring, so a window slides in O(1) per request.
type timeQueue struct {
	buf  []int64
	head int
	n    int
}

// push appends t, which is never earlier than the last pushed time.
func (q *timeQueue) push(t int64) {
	if q.n == len(q.buf) {
		grown := make([]int64, max(2*len(q.buf), 16))
		for i := range q.n {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = t
	q.n++
}

// dropThrough removes every time <= cut: the arrivals that left the window.
func (q *timeQueue) dropThrough(cut int64) {
	for q.n > 0 && q.buf[q.head] <= cut {
		q.pop()
	}
}

// pop removes the oldest time; only valid when the queue is not empty.
func (q *timeQueue) pop() {
	q.head = (q.head + 1) % len(q.buf)
	q.n--
}

// front is the oldest time; only valid when the queue is not empty.
func (q *timeQueue) front() int64 { return q.buf[q.head] }

// clear empties the queue and keeps its storage.
func (q *timeQueue) clear() { q.head, q.n = 0, 0 }

// arrival is what the limiter decided about one /api request.
type arrival int

const (
	// arrivalAdmitted: the request entered the window and is served.
	arrivalAdmitted arrival = iota
	// arrivalRefused: the client had its limit in the window; answer 429.
	arrivalRefused
	// arrivalDown: the client is down; answer 503 without admission.
	arrivalDown
)

// arrive records an /api arrival of c and applies the sliding window: the
// window at time t is (t-W, t], and a request is refused when RateLimit or
// more admitted requests are in it. Refused requests do not enter the
// window; every arrival, refused or not, counts for max_in_window. When
// refused, wait is how long until the oldest admitted request leaves.
func (s *Server) arrive(c *client, ep endpoint, down bool) (verdict arrival, wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.now()
	t := int64(now.Sub(s.epoch))
	cut := t - int64(s.window)

	c.arrivals.dropThrough(cut)
	c.arrivals.push(t)
	st := &c.stats
	st.maxInWindow = max(st.maxInWindow, int64(c.arrivals.n))
	if st.first.IsZero() {
		st.first = now
	}
	st.last = now

	if down {
		return arrivalDown, 0
	}
	if limit := s.cfg.RateLimit; limit > 0 {
		c.spanned(t, limit)
		c.admitted.dropThrough(cut)
		if c.admitted.n >= limit {
			st.rateLimited++
			st.add(ep, strconv.Itoa(http.StatusTooManyRequests))
			return arrivalRefused, time.Duration(c.admitted.front() - cut)
		}
		c.admitted.push(t)
	}
	st.counted++
	return arrivalAdmitted, 0
}

// spanned keeps the client's last limit+1 arrival times and the shortest
// span yet from an arrival to the limit-th arrival after it: how close the
// client came to the limit, which max_in_window cannot show while it holds.
// Called with c.mu held.
func (c *client) spanned(t int64, limit int) {
	c.recent.push(t)
	if c.recent.n <= limit {
		return
	}
	span := time.Duration(t - c.recent.front())
	c.recent.pop()
	if !c.stats.spanned || span < c.stats.tightest {
		c.stats.tightest, c.stats.spanned = span, true
	}
}

// rateLimited is the 429 body of the contract.
type rateLimited struct {
	apiError
	RetryAfter float64 `json:"retry_after"`
}

// retryAfter converts a real wait into the retry_after value: rounded up to
// whole seconds of platform time, then divided by the time scale and
// rounded up to the millisecond. At scale 1 it is a whole number.
func (s *Server) retryAfter(wait time.Duration) float64 {
	platformNanos := math.Ceil(float64(wait) * s.cfg.TimeScale)
	platformSecs := math.Ceil(platformNanos / float64(time.Second))
	// The small epsilon absorbs float error such as 1000/0.1 = 10000.000000000002.
	millis := math.Ceil(platformSecs*1000/s.cfg.TimeScale - 1e-6)
	return millis / 1000
}

// tooMany answers 429; the refusal was already counted by arrive.
func (s *Server) tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := s.retryAfter(wait)
	if s.cfg.RetryAfterHeader {
		// The header's delay-seconds is a whole number; round up.
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(secs)))))
	}
	writeJSON(w, http.StatusTooManyRequests, rateLimited{
		apiError: apiError{
			Error: "Rate limit exceeded",
			Message: "Too many requests: at most " + strconv.Itoa(s.cfg.RateLimit) +
				" per " + s.cfg.RateWindow.String() + " of platform time per client; retry after " +
				strconv.FormatFloat(secs, 'f', -1, 64) + " seconds",
		},
		RetryAfter: secs,
	})
}
