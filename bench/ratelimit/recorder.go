package main

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
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
	at := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	r.next.ServeHTTP(sw, req)
	r.mu.Lock()
	r.arrivals = append(r.arrivals, arrival{at: at, client: client, outcome: outcomeOf(sw.status)})
	r.mu.Unlock()
}

// recorded returns a copy of the arrivals recorded so far.
func (r *recorder) recorded() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]arrival(nil), r.arrivals...)
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
