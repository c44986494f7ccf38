package clients

import (
	"context"
	"fmt"
	"os"
	"time"
)

// RunCanceller ends a client's running runs; *store.Store is one.
type RunCanceller interface {
	CancelClientRuns(ctx context.Context, clientID, reason string) ([]int64, error)
}

// cancelRetry is the pause between attempts to cancel a removed client's
// runs while the database cannot be reached.
const cancelRetry = 5 * time.Second

// CancelRemoved makes l end the running runs of every client removed from
// it as cancelled, with a reason naming this worker. Every worker that
// notices a removal does this; the database lets the first one end the run.
// An attempt that fails is tried again until it succeeds, the client is
// configured again, or ctx ends. Nothing is deleted. The run's queued tasks
// then find their client unknown and their run ended, and are dropped
// without a request (see internal/pipeline).
func (l *Live) CancelRemoved(ctx context.Context, st RunCanceller) {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	reason := fmt.Sprintf("client removed from the clients configuration (noticed by worker %s, pid %d)", host, os.Getpid())
	l.OnChange(func(_ context.Context, ch Change) {
		for _, id := range ch.Removed {
			go l.cancelRuns(ctx, st, id, reason)
		}
	})
}

// cancelRuns cancels one removed client's running runs, retrying.
func (l *Live) cancelRuns(ctx context.Context, st RunCanceller, clientID, reason string) {
	for {
		if _, back := l.List().Get(clientID); back {
			return
		}
		ids, err := st.CancelClientRuns(ctx, clientID, reason)
		if err == nil {
			if len(ids) > 0 {
				l.log.InfoContext(ctx, "runs of a removed client cancelled", "client", clientID, "runs", ids)
			}
			return
		}
		l.log.WarnContext(ctx, "cannot cancel the runs of a removed client yet; trying again",
			"client", clientID, "error", err.Error(), "retry_in", cancelRetry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(cancelRetry):
		}
	}
}
