// Command worker runs adsync's fetch-page and save tasks until SIGTERM or
// SIGINT, then finishes its in-flight tasks. See internal/worker and
// README.md.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/logging"
	"github.com/adsync/adsync/internal/worker"
)

func main() {
	cfg, err := config.Load()
	if err == nil {
		_, err = cfg.Clients() // bad credentials are bad configuration too: exit 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	slog.SetDefault(log) // libraries that log through the default logger keep the format
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, cfg, log); err != nil {
		log.Error("worker failed", "error", err.Error())
		stop()
		os.Exit(1)
	}
}
