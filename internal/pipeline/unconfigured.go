package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/store"
)

// DefaultUnconfiguredWait is Options.UnconfiguredWait when left zero: twice
// the clients file's periodic re-read (30 s), for a worker whose file
// notification was lost, plus a minute for a Kubernetes Secret to reach
// every pod. It bounds both the wait for a client this worker does not know
// yet and the wait for new credentials after the platform refused a
// client's.
const DefaultUnconfiguredWait = 2 * time.Minute

// maxUnconfiguredStep is the longest one wait of such a task in the queue.
const maxUnconfiguredStep = 5 * time.Second

// unconfigured decides the fate of a task whose client this worker's
// client list does not name (platform.ErrUnknownClient), before any request
// is spent on it. A run that has ended (cancelled when its client was
// removed) drops the task: it succeeds without doing anything. A run
// younger than the wait sends it back to the queue, not as a failure: the
// enqueuer knew the client when it started the run, so this worker will
// likely see it in its configuration soon. Past the wait, the task is a
// dead letter saying where the client is missing.
func (h *Handlers) unconfigured(ctx context.Context, t *asynq.Task, cause error) error {
	ref := refOf(t.Payload())
	age, err := h.store.RunAgeOf(ctx, ref.RunID)
	switch {
	case errors.Is(err, store.ErrRunNotFound):
		return cause
	case err != nil:
		return err
	case age.Finished():
		h.taskLog(t).InfoContext(ctx, "task dropped: its run has ended and its client is not configured", "run_status", age.Status)
		return nil
	case age.Age < h.unconfiguredWait:
		return &RequeueError{ClientID: ref.ClientID, Delay: h.waitStep(age.Age), Cause: "client not configured on this worker (yet)"}
	}
	return fmt.Errorf("client %s is not configured on worker %s (waited %s after the run started for its clients file to name it): %w",
		ref.ClientID, workerName(), h.unconfiguredWait, asynq.SkipRetry)
}

// waitStep is how long a task waiting for its client's configuration
// (unconfigured or refused) stays out of the queue once it has waited for
// waited: a twentieth of the wait, at least 100 ms and at most
// maxUnconfiguredStep, and never past the wait's end.
func (h *Handlers) waitStep(waited time.Duration) time.Duration {
	return min(max(h.unconfiguredWait/20, 100*time.Millisecond), maxUnconfiguredStep, h.unconfiguredWait-waited)
}

// workerName names this worker process in a dead letter's reason.
func workerName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s (pid %d)", host, os.Getpid())
}
