package mock

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// Faults are the failures the mock injects, changeable at run time (by
// SetFaults or POST /__mock/faults) so chaos tests can break the platform
// in the middle of a sync. A new value replaces the old one whole.
type Faults struct {
	// DownAll answers 503 to every token and /api request of every client.
	DownAll bool `json:"down_all"`
	// HangAll leaves every admitted, authenticated /api request unanswered.
	HangAll bool `json:"hang_all"`
	// DownClients answer 503 to every token and /api request of these
	// client ids.
	DownClients []string `json:"down_clients"`
	// HangPercent (0..100) of admitted, authenticated /api requests get no
	// answer.
	HangPercent float64 `json:"hang_percent"`
	// FailEvery makes every Nth admitted, authenticated GET /api/campaigns
	// answer 503 (one counter for all clients); 0 never.
	FailEvery int `json:"fail_every"`
	// HangNext leaves the next N admitted, authenticated /api requests (of
	// any client) unanswered, before any HangPercent draw: a test's way to
	// hang one given request, such as the first copy of a hedged one. Read
	// back, it is how many are left.
	HangNext int `json:"hang_next"`
}

// faultState is Faults with the down clients as a set, swapped atomically.
type faultState struct {
	Faults
	down map[string]bool
	// hangNext is what is left of Faults.HangNext.
	hangNext atomic.Int64
}

// isDown reports whether a client's requests answer 503.
func (f *faultState) isDown(id string) bool { return f.DownAll || f.down[id] }

// SetFaults replaces the fault settings. Invalid values (a percentage
// outside 0..100, a negative FailEvery) are refused and change nothing.
func (s *Server) SetFaults(f Faults) error {
	var errs []error
	if !(f.HangPercent >= 0 && f.HangPercent <= 100) {
		errs = append(errs, fmt.Errorf("hang_percent must be between 0 and 100, got %v", f.HangPercent))
	}
	if f.FailEvery < 0 {
		errs = append(errs, fmt.Errorf("fail_every must be 0 (never) or positive, got %d", f.FailEvery))
	}
	if f.HangNext < 0 {
		errs = append(errs, fmt.Errorf("hang_next must not be negative, got %d", f.HangNext))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	s.faults.Store(newFaultState(f))
	return nil
}

// newFaultState indexes valid fault settings.
func newFaultState(f Faults) *faultState {
	f.DownClients = cleanIDs(f.DownClients)
	st := &faultState{Faults: f, down: make(map[string]bool, len(f.DownClients))}
	for _, id := range f.DownClients {
		st.down[id] = true
	}
	st.hangNext.Store(int64(f.HangNext))
	return st
}

// Faults returns a copy of the current fault settings.
func (s *Server) Faults() Faults {
	st := s.faults.Load()
	f := st.Faults
	f.DownClients = slices.Clone(f.DownClients)
	f.HangNext = int(st.hangNext.Load())
	return f
}

// maxFaultsBody bounds the body of POST /__mock/faults.
const maxFaultsBody = 64 << 10

// handleGetFaults serves GET /__mock/faults.
func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleSetFaults serves POST /__mock/faults: the JSON body replaces the
// fault settings (a missing field means off), and the answer is the new
// settings.
func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	err := decodeControl(w, r, maxFaultsBody, &f)
	if err == nil {
		err = s.SetFaults(f)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{
			Error:   "Bad request",
			Message: "invalid faults: " + err.Error(),
		})
		return
	}
	f = s.Faults()
	s.log.Info("mock faults changed",
		"down_all", f.DownAll, "hang_all", f.HangAll, "down_clients", f.DownClients,
		"hang_percent", f.HangPercent, "fail_every", f.FailEvery, "hang_next", f.HangNext)
	writeJSON(w, http.StatusOK, f)
}

// unavailable is the 503 body of the contract.
var unavailable = apiError{
	Error:   "Service temporarily unavailable",
	Message: "The service is temporarily unavailable, try again later.",
}

// failNow counts an admitted, authenticated list request and reports
// whether it is the Nth that answers 503.
func (s *Server) failNow(f *faultState) bool {
	return f.FailEvery > 0 && s.listCount.Add(1)%int64(f.FailEvery) == 0
}

// shouldHang decides whether an admitted, authenticated /api request gets
// no answer. The draw comes from the client's own sequence, seeded by
// Config.Seed, so a client sees the same hangs run after run whatever other
// clients do.
func (s *Server) shouldHang(c *client, f *faultState) bool {
	if f.HangAll {
		return true
	}
	for n := f.hangNext.Load(); n > 0; n = f.hangNext.Load() {
		if f.hangNext.CompareAndSwap(n, n-1) {
			return true
		}
	}
	return f.HangPercent > 0 && c.drawHang(f.HangPercent)
}

// waitGone blocks until done fires (true), or the request's client gives
// up or the server closes (false); a nil done never fires. Blocked requests
// show in Stats.Waiting.
func (s *Server) waitGone(r *http.Request, done <-chan time.Time) bool {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case <-done:
		return true
	case <-r.Context().Done():
	case <-s.closing:
	}
	return false
}

// pause waits d (the sync delay); false means the client went away or the
// server closed first.
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	return s.waitGone(r, t.C)
}
