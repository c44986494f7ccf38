package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

// timeLayout is how the mock writes timestamps: RFC 3339 in UTC with
// milliseconds, as a JavaScript platform's toISOString does.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// stamp formats t with timeLayout.
func stamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// apiError is the body of every error answer of the contract.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// internalError is written when even encoding an answer failed.
var internalError = []byte(`{"error":"Internal server error","message":"The mock failed to handle this request."}`)

// writeJSON sends v as a JSON answer with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, internalError
	}
	writeBody(w, status, body)
}

// writeBody sends an already encoded JSON answer.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // #nosec G705 -- JSON served as application/json, never HTML; a client gone away is not the mock's error
}

// reply sends an answer of a client-facing endpoint and counts it in the
// client's statistics.
func (s *Server) reply(w http.ResponseWriter, c *client, ep endpoint, status int, v any) {
	c.count(ep, strconv.Itoa(status))
	writeJSON(w, status, v)
}

// quoteInput quotes user input for an error message, cut to a sane length.
func quoteInput(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return strconv.Quote(s)
}

// recoverJSON is the last line of defence: a panicking handler answers 500
// JSON, never a stack trace, and the panic is logged and counted. Tests
// assert the count stays 0, so no input ever reaches it.
func (s *Server) recoverJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.panics.Add(1)
			s.log.Error("mock handler panicked",
				"method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeBody(w, http.StatusInternalServerError, internalError)
		}()
		next.ServeHTTP(w, r)
	})
}
