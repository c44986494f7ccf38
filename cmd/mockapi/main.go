// Command mockapi serves the mock ad platform (internal/mock) until SIGINT
// or SIGTERM. It is configured by the MOCK_* variables (docs/mockapi.md)
// plus LOG_LEVEL and LOG_FORMAT; a bad value exits 2 with one line per bad
// variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/adsync/adsync/internal/logging"
	"github.com/adsync/adsync/internal/mock"
)

// shutdownTimeout bounds the wait for in-flight requests at shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	cfg, err := mock.ConfigFromEnv()
	level, format := os.Getenv("LOG_LEVEL"), os.Getenv("LOG_FORMAT")
	err = errors.Join(err, checkLogging(level, format))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := logging.New(os.Stderr, level, format)
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("mockapi failed", "error", err.Error())
		stop()
		os.Exit(1)
	}
}

// checkLogging validates LOG_LEVEL and LOG_FORMAT (empty means info and
// json), one line per bad variable.
func checkLogging(level, format string) error {
	var errs []error
	if level != "" && !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(level)) {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: must be debug, info, warn or error, got %q", level))
	}
	if format != "" && !slices.Contains([]string{"json", "text"}, strings.ToLower(format)) {
		errs = append(errs, fmt.Errorf("LOG_FORMAT: must be json or text, got %q", format))
	}
	return errors.Join(errs...)
}

// run serves the mock until ctx ends, then releases hung requests and shuts
// the HTTP server down gracefully.
func run(ctx context.Context, cfg mock.Config, log *slog.Logger) error {
	srv, err := mock.NewServer(cfg)
	if err != nil {
		return fmt.Errorf("build mock: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No ReadTimeout or WriteTimeout: hung requests and the slow sync
		// call must last as long as the client waits.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	emails := make([]string, 0, len(cfg.Accounts))
	for _, a := range cfg.Accounts {
		emails = append(emails, a.Email)
	}
	log.Info("mockapi listening",
		"addr", ln.Addr().String(), "time_scale", cfg.TimeScale, "campaigns", cfg.Campaigns,
		"rate_limit", cfg.RateLimit, "rate_window", cfg.RateWindow.String(),
		"fail_every", cfg.FailEvery, "hang_percent", cfg.HangPercent,
		"sync_delay", cfg.SyncDelay.String(), "token_ttl", cfg.TokenTTL.String(),
		"poison_every", cfg.PoisonEvery, "down_clients", cfg.DownClients, "seed", cfg.Seed,
		"retry_after_header", cfg.RetryAfterHeader, "volatile_metrics", cfg.VolatileMetrics,
		"grow_by", cfg.GrowBy, "accounts", emails)

	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	select {
	case err := <-served:
		srv.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("mockapi shutting down")
	srv.Close() // first, so hung and sleeping requests end and Shutdown need not wait for them
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("mockapi stopped")
	return nil
}
