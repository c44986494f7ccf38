package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// Check is one dependency that /readyz asks about.
type Check struct {
	// Name names the dependency in /readyz's body, e.g. "redis".
	Name string
	// Probe returns nil when the dependency answers; it must honour ctx.
	Probe func(ctx context.Context) error
	// Advisory checks show their problem in the body but leave the process
	// ready: it still works, on the last good client list, say.
	Advisory bool
}

// readiness is /readyz's body: "ok" or "unavailable", and each check's
// result ("ok" or the error).
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// healthz answers 200 while the process serves HTTP.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every check at once, each bounded by CheckTimeout, and
// answers 200 when all pass, 503 naming the failures otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	results := make([]error, len(s.opts.Checks))
	var wg sync.WaitGroup
	for i, c := range s.opts.Checks {
		wg.Go(func() { results[i] = s.probe(r.Context(), c) })
	}
	wg.Wait()
	body := readiness{Status: "ok", Checks: make(map[string]string, len(s.opts.Checks))}
	for i, c := range s.opts.Checks {
		body.Checks[c.Name] = "ok"
		if results[i] != nil {
			if !c.Advisory {
				body.Status = "unavailable"
			}
			body.Checks[c.Name] = results[i].Error()
		}
	}
	if body.Status != "ok" {
		s.log.Warn("not ready", "checks", body.Checks)
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// probe runs one check and gives up on it after CheckTimeout even if the
// check ignores its context (go-redis, for one, bounds a command by its own
// read timeout, not by the context's deadline): the probe then finishes in
// the background.
func (s *Server) probe(parent context.Context, c Check) error {
	ctx, cancel := context.WithTimeout(parent, s.opts.CheckTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Probe(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s: %w", s.opts.CheckTimeout, ctx.Err())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}
