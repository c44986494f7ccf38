package mock

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the mock ad platform, an http.Handler. Create it with
// NewServer; Close it before shutting the HTTP server down, so hung and
// sleeping requests end.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	epoch   time.Time // origin of window times, read from now at start
	key     []byte    // token MAC key
	handler http.Handler

	// Real-time durations: the platform's divided by the time scale.
	window, syncDelay, tokenTTL time.Duration

	clients    sync.Map // client id -> *client
	faults     atomic.Pointer[faultState]
	listCount  atomic.Int64 // admitted, authenticated list requests, for FailEvery
	metricTick atomic.Int64 // list calls, for VolatileMetrics
	waiting    atomic.Int64 // requests hung or in the sync delay
	panics     atomic.Int64 // handler panics caught by recoverJSON

	passwords sync.Map // client id -> secret.Secret, set at run time (passwords.go)
	closing   chan struct{}
	closeOnce sync.Once
}

// NewServer checks cfg and builds a mock that logs to slog.Default().
func NewServer(cfg Config) (*Server, error) {
	return newServer(cfg, time.Now)
}

// newServer is NewServer with a clock, so tests move time instead of
// sleeping.
func newServer(cfg Config, now func() time.Time) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("mock config: %w", err)
	}
	cfg.Accounts = slices.Clone(cfg.Accounts)
	s := &Server{
		cfg:       cfg,
		log:       slog.Default(),
		now:       now,
		epoch:     now(),
		key:       []byte(rand.Text()), // 128 random bits
		window:    cfg.scaled(cfg.RateWindow),
		syncDelay: cfg.scaled(cfg.SyncDelay),
		tokenTTL:  cfg.scaled(cfg.TokenTTL),
		closing:   make(chan struct{}),
	}
	// validate checked the same rules SetFaults does.
	s.faults.Store(newFaultState(Faults{
		DownClients: cfg.DownClients,
		HangPercent: cfg.HangPercent,
		FailEvery:   cfg.FailEvery,
	}))
	s.handler = s.recoverJSON(http.HandlerFunc(s.route))
	return s, nil
}

// ServeHTTP answers one request of the platform contract or of the
// /__mock/ control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Close releases every hung and sleeping request at once (their
// connections are dropped without an answer) and makes later ones end at
// once too. Other requests are still served. Safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// route dispatches by path, then by method; unknown paths answer 404 and
// wrong methods 405, both as JSON.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch path {
	case "/auth/token":
		if allow(w, r, http.MethodPost) {
			s.handleToken(w, r)
		}
	case "/api/campaigns":
		if allow(w, r, http.MethodGet) {
			if c, ok := s.gate(w, r, epList); ok {
				s.handleList(w, r, c)
			}
		}
	case "/health":
		if allow(w, r, http.MethodGet) {
			s.handleHealth(w, r)
		}
	case "/__mock/stats":
		if allow(w, r, http.MethodGet) {
			s.handleStats(w, r)
		}
	case "/__mock/catalogue":
		if allow(w, r, http.MethodGet) {
			s.handleCatalogue(w, r)
		}
	case "/__mock/reset":
		if allow(w, r, http.MethodPost) {
			s.handleReset(w, r)
		}
	case "/__mock/password":
		s.handlePassword(w, r)
	case "/__mock/faults":
		switch r.Method {
		case http.MethodGet:
			s.handleGetFaults(w, r)
		case http.MethodPost:
			s.handleSetFaults(w, r)
		default:
			notAllowed(w, r, http.MethodGet, http.MethodPost)
		}
	default:
		id, ok := syncID(path)
		if !ok {
			writeJSON(w, http.StatusNotFound, apiError{
				Error:   "Not found",
				Message: "No endpoint at " + quoteInput(path) + ".",
			})
			return
		}
		if allow(w, r, http.MethodPost) {
			if c, ok := s.gate(w, r, epSync); ok {
				s.handleSync(w, r, c, id)
			}
		}
	}
}

// syncID extracts {id} from /api/campaigns/{id}/sync.
func syncID(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/api/campaigns/")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "/sync")
}

// allow reports whether the request uses method, else answers 405.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	notAllowed(w, r, method)
	return false
}

// notAllowed answers 405 naming the allowed methods.
func notAllowed(w http.ResponseWriter, r *http.Request, methods ...string) {
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, apiError{
		Error:   "Method not allowed",
		Message: "Use " + strings.Join(methods, " or ") + " for " + quoteInput(r.URL.Path) + ".",
	})
}

// gate runs the pipeline every /api request goes through, in this order: a
// down client answers 503 (not admitted); the sliding window admits or
// answers 429; the Bearer token is checked (401); every FailEvery-th list
// request answers 503; HangPercent of requests hang. Everything after
// admission counts in the window. ok means the endpoint may answer.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, ep endpoint) (c *client, ok bool) {
	c = s.client(clientID(r))
	f := s.faults.Load()
	switch verdict, wait := s.arrive(c, ep, f.isDown(c.id)); verdict {
	case arrivalDown:
		s.reply(w, c, ep, http.StatusServiceUnavailable, unavailable)
		return nil, false
	case arrivalRefused:
		s.tooMany(w, wait)
		return nil, false
	}
	if !s.authorize(w, r, c, ep) {
		return nil, false
	}
	if ep == epList && s.failNow(f) {
		s.reply(w, c, ep, http.StatusServiceUnavailable, unavailable)
		return nil, false
	}
	if !s.shouldHang(c, f) {
		return c, true
	}
	c.countHang(ep)
	s.waitGone(r, nil)
	// Drop the connection without an answer; net/http recovers this value
	// silently.
	panic(http.ErrAbortHandler)
}

// healthAnswer is the body of GET /health.
type healthAnswer struct {
	Status    string  `json:"status"`
	Timestamp string  `json:"timestamp"`
	Uptime    float64 `json:"uptime"`
}

// handleHealth serves GET /health; faults never touch it.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	now := s.now()
	writeJSON(w, http.StatusOK, healthAnswer{
		Status:    "ok",
		Timestamp: stamp(now),
		Uptime:    math.Round(now.Sub(s.epoch).Seconds()*1000) / 1000,
	})
}
