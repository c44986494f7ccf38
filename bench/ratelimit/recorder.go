package main

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/adsync/adsync/internal/mock"
)

// Outcomes of a recorded request, as the chart's legend names them.
const (
	outcomeOK       = "answered 2xx"
	outcomeFailed   = "answered 5xx"
	outcomeRefused  = "refused (429)"
	outcomeNoAnswer = "no answer"
	outcomeOther    = "other answer"
)

// arrival is one /api request of a charted client as the mock saw it: when
// it arrived and how the mock answered.
type arrival struct {
	at      time.Time
	client  string
	outcome string
}

// recorder sits in front of the in-process mock and notes the arrival time
// and the answer of every /api request of the charted clients. It is in
// the same process as the mock, so its clock is the mock's: the times are
// the arrivals the platform's sliding window counts, not our send times.
type recorder struct {
	next    http.Handler
	clients map[string]bool

	mu       sync.Mutex
	arrivals []arrival
}

// newRecorder wraps next and records the requests of the given clients.
func newRecorder(next http.Handler, clients []string) *recorder {
	r := &recorder{next: next, clients: map[string]bool{}}
	for _, c := range clients {
		r.clients[c] = true
	}
	return r
}

// ServeHTTP passes the request on and records it when it is a counted /api
// request of a charted client.
func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	client := cmp.Or(req.Header.Get("X-Client-ID"), "default")
	if !strings.HasPrefix(req.URL.Path, "/api/") || !r.clients[client] {
		r.next.ServeHTTP(w, req)
		return
	}
	// Noted on arrival: a hung request's handler may only return when the
	// server closes, long after the run.
	r.mu.Lock()
	i := len(r.arrivals)
	r.arrivals = append(r.arrivals, arrival{at: time.Now(), client: client})
	r.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	// Deferred: the mock drops a hung request by panicking with
	// http.ErrAbortHandler, which must go on to net/http.
	defer func() {
		r.mu.Lock()
		r.arrivals[i].outcome = outcomeOf(sw.status)
		r.mu.Unlock()
	}()
	r.next.ServeHTTP(sw, req)
}

// recorded returns a copy of the arrivals recorded so far; a request not
// answered yet is one with no answer.
func (r *recorder) recorded() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]arrival(nil), r.arrivals...)
	for i := range out {
		if out[i].outcome == "" {
			out[i].outcome = outcomeNoAnswer
		}
	}
	return out
}

// outcomeOf names an HTTP status; 0 means the handler never answered (the
// mock's hang, ended by the client's timeout).
func outcomeOf(status int) string {
	switch {
	case status == 0:
		return outcomeNoAnswer
	case status == http.StatusTooManyRequests:
		return outcomeRefused
	case status >= 200 && status < 300:
		return outcomeOK
	case status >= 500:
		return outcomeFailed
	default:
		return outcomeOther + " " + strconv.Itoa(status)
	}
}

// statusWriter remembers the status the handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records status and passes it on.
func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records the implicit 200 of a body written without WriteHeader.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes a flush on, for handlers that send headers before the body.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// checkRecording compares the recorded arrivals of each charted client with
// the mock's own counts, so a chart never shows fewer requests, refusals or
// hangs than the platform saw.
func checkRecording(arrivals []arrival, stats map[string]mock.ClientStats, clients []string) error {
	for _, c := range clients {
		var admitted, refused, hung int64
		for _, a := range arrivalsOf(arrivals, c) {
			switch {
			case a.outcome == outcomeRefused:
				refused++
			case a.outcome == outcomeNoAnswer:
				hung++
				admitted++
			default:
				admitted++
			}
		}
		s := stats[c]
		if admitted != s.Counted || refused != s.RateLimited || hung != s.Hangs {
			return fmt.Errorf("chart: recorded %d requests, %d refused, %d unanswered of %s; the mock counted %d, %d, %d",
				admitted, refused, hung, c, s.Counted, s.RateLimited, s.Hangs)
		}
	}
	return nil
}
