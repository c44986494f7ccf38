package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/adsync/adsync/internal/secret"
)

// MonitoringPath is where asynqmon is served.
const MonitoringPath = "/monitoring"

// DefaultCheckTimeout is Options.CheckTimeout when left zero.
const DefaultCheckTimeout = 2 * time.Second

// Options configure a Server.
type Options struct {
	// Addr is the listen address (HTTP_ADDR); ":0" picks a free port, see
	// Server.Addr.
	Addr string
	// RedisConnOpt is the Redis that asynqmon shows. Required.
	RedisConnOpt asynq.RedisConnOpt
	// ReadOnly hides asynqmon's buttons and refuses its non-GET API calls
	// (ASYNQMON_READ_ONLY).
	ReadOnly bool
	// User and Password, when both set, require basic auth on /monitoring
	// (ASYNQMON_USER, ASYNQMON_PASSWORD).
	User     string
	Password secret.Secret
	// Checks are what /readyz asks, in order.
	Checks []Check
	// CheckTimeout bounds each check. Zero means DefaultCheckTimeout.
	CheckTimeout time.Duration
	// Metrics serves /metrics. Required.
	Metrics http.Handler
	// Logger receives the server's lines; nil discards them.
	Logger *slog.Logger
}

// Server is the ops HTTP server. Start it, then Shutdown it.
type Server struct {
	opts    Options
	log     *slog.Logger
	monitor *asynqmon.HTTPHandler
	http    *http.Server
	ln      net.Listener
	served  chan struct{}
}

// New builds the server; nothing listens until Start.
func New(o Options) (*Server, error) {
	if o.RedisConnOpt == nil || o.Metrics == nil {
		return nil, errors.New("ops: RedisConnOpt and Metrics are required")
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, log: log.With("component", "ops")}
	s.monitor = asynqmon.New(asynqmon.Options{RootPath: MonitoringPath, RedisConnOpt: o.RedisConnOpt, ReadOnly: o.ReadOnly})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", o.Metrics)
	var monitoring http.Handler = s.monitor
	if o.User != "" && !o.Password.IsZero() {
		monitoring = basicAuth(o.User, o.Password, s.log, monitoring)
	}
	mux.Handle(MonitoringPath+"/", monitoring)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Start listens on Addr and serves in the background. A listen error (the
// port is taken) is returned at once.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("ops server: listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ops server stopped serving", "error", err.Error())
		}
	}()
	s.log.Info("ops server listening", "addr", ln.Addr().String(), "monitoring", MonitoringPath+"/",
		"monitoring_auth", s.opts.User != "", "monitoring_read_only", s.opts.ReadOnly)
	return nil
}

// Addr is the address the server listens on, after Start.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting connections, lets requests in flight finish
// until ctx ends, and closes asynqmon's Redis connections.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if s.served != nil {
		<-s.served
	}
	if cerr := s.monitor.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close asynqmon: %w", cerr))
	}
	if err != nil {
		return fmt.Errorf("ops server: shutdown: %w", err)
	}
	return nil
}
