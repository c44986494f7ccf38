package enqueuer

import (
	"context"
	"fmt"
	"time"

	"github.com/adsync/adsync/internal/clients"
	"github.com/adsync/adsync/internal/runs"
)

// scheduleCmd starts runs of every configured client every DURATION until
// stopped. A client whose previous run is still going is skipped and logged
// (the ledger refuses a second running run), so schedules never overlap.
// Each tick first reconciles the running runs with the queues (see
// runs.Starter.Resume): work lost with Redis is enqueued again, and a task asynq
// archived behind the ledger's back is recorded, so no run stays running
// forever and blocks its client's next sync. A plain ticker is enough here: the
// work of a tick is idempotent, and running two schedulers is safe because
// PostgreSQL, not this process, decides which run may start.
func scheduleCmd(ctx context.Context, e *env, args []string) (int, error) {
	fs := newFlags("schedule", e.stderr)
	every := fs.Duration("every", 0, "interval between sync runs of all clients (e.g. 1h)")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	if *every <= 0 {
		return 0, usageError{fmt.Errorf("--every must be a positive duration such as 30m")}
	}
	// The same live list as a worker's, read again at every tick: clients
	// added or removed since are synced, or no longer, from then on. A
	// broken file keeps the last good list; the list logs its problem on
	// one line, once, and again only when the problem changes.
	live, err := clients.New(clients.FromConfig(e.cfg), clients.Options{Logger: e.log})
	if err != nil {
		return 0, usageError{err}
	}
	starter, err := e.starter(ctx)
	if err != nil {
		return 0, err
	}
	e.log.Info("scheduler started", "every", every.String(), "clients", live.List().Len())
	ticker := time.NewTicker(*every)
	defer ticker.Stop()
	for first := true; ; first = false {
		if !first {
			_, _ = live.Reload(ctx) // a refusal is logged by the list
		}
		if err := scheduleTick(ctx, e, starter, live.List().IDs()); err != nil {
			e.log.Error("scheduled sync failed; trying again next tick", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			e.log.Info("scheduler stopped")
			return ExitOK, nil
		case <-ticker.C:
		}
	}
}

func scheduleTick(ctx context.Context, e *env, starter *runs.Starter, ids []string) error {
	if _, err := starter.Resume(ctx); err != nil {
		return err
	}
	started, err := starter.Start(ctx, ids)
	for _, s := range started {
		if s.Skipped {
			e.log.Info("skipped: previous run still in progress", "client", s.ClientID, "run", s.RunID)
		}
	}
	return err
}
