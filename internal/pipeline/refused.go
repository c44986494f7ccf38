package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/store"
)

// refused decides the fate of a task whose client's credentials the
// platform refused (platform.ErrCredentialsRefused). The platform client
// has already read the clients configuration again and tried new
// credentials if there were any, so the password is still wrong here: it
// was likely changed on the platform and not yet in the clients file (a
// Kubernetes Secret takes a minute or more to reach every pod). The task
// goes back to the queue, not as a failure, for up to UnconfiguredWait
// counted from the platform's first refusal of the client, not from the
// run's start (a run lasts eleven minutes and more); the platform client
// asks for a token at most once per its refusal pause meanwhile. Past the
// wait, the task is a dead letter saying since when the credentials are
// refused; it names no password.
func (h *Handlers) refused(t *asynq.Task, cause error) error {
	ref := refOf(t.Payload())
	since := time.Now()
	var pe *platform.Error
	if errors.As(cause, &pe) && !pe.RefusedSince.IsZero() {
		since = pe.RefusedSince
	}
	waited := time.Since(since)
	if waited < h.unconfiguredWait {
		return &RequeueError{ClientID: ref.ClientID, Delay: h.waitStep(waited),
			Cause: "the platform refused the client's credentials; waiting for new ones in the clients configuration"}
	}
	return fmt.Errorf("the platform has refused the credentials of client %s since %s, and the clients configuration of worker %s "+
		"gave none it accepts within %s: %w: %w", ref.ClientID, since.UTC().Format(time.RFC3339), workerName(), h.unconfiguredWait,
		cause, asynq.SkipRetry)
}

// cancelled reports whether the task's run was cancelled: its client was
// removed from the clients configuration, and may have been put back
// since. Nothing more of that run is wanted (a new run of the client
// starts afresh), so the task is dropped before it spends a request; it
// succeeds without doing anything. Tasks of runs that ended otherwise go
// on: a dead-lettered page replayed from asynqmon revives its run.
func (h *Handlers) cancelled(ctx context.Context, t *asynq.Task, runID int64) (bool, error) {
	age, err := h.store.RunAgeOf(ctx, runID)
	if err != nil {
		return false, err
	}
	if age.Status != store.StatusCancelled {
		return false, nil
	}
	h.dropCancelled(ctx, t)
	return true, nil
}

// dropCancelled logs that the task is dropped because its run was cancelled.
func (h *Handlers) dropCancelled(ctx context.Context, t *asynq.Task) {
	h.taskLog(t).InfoContext(ctx, "task dropped: its run was cancelled")
}
