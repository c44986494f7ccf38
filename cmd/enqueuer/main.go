// Command enqueuer starts, watches, resumes and schedules adsync's sync
// runs. See internal/enqueuer and README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/enqueuer"
)

func main() {
	args := os.Args[1:]
	if code, done := enqueuer.Help(args, os.Stderr); done {
		os.Exit(code) // the usage needs no configuration
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // one line per bad variable
		os.Exit(enqueuer.ExitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := enqueuer.Main(ctx, cfg, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
