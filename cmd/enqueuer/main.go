// Command enqueuer starts, watches, resumes and schedules adsync's sync
// runs. See internal/enqueuer and README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/adsync/adsync/internal/enqueuer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := enqueuer.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
