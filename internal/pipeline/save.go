package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// save validates one record, makes the platform's sync call for it and
// upserts it. An invalid record is dead-lettered before any request is
// spent on it, and the record of a cancelled run is dropped before its
// sync call. (Without the sync call it is stored, spending no request: it
// was fetched already.) The upsert shares a transaction with the saves of concurrent
// tasks (the store's group commit), and the task succeeds only once that
// transaction has committed. While the database is presumed down, the
// task goes back to the queue before spending a request, and after an
// outage the first tasks check that it answers before they spend one.
func (h *Handlers) save(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.DecodeSave(t.Payload())
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	c, err := campaign.Parse(p.Record)
	if err != nil {
		return err
	}
	if h.dbOutage.presumed() {
		return errPresumedDown
	}
	var syncedAt *time.Time
	if h.syncCall {
		// Read before the request: a cancelled run wants no more of it,
		// and after an outage the read shows that the database answers
		// again, before a request is spent on a record that could not be
		// stored.
		if dropped, err := h.cancelled(ctx, t, p.RunID); dropped || err != nil {
			return err
		}
		h.dbOutage.over()
		res, err := h.platform.SyncCampaign(ctx, p.ClientID, c.ID)
		if err != nil {
			return fmt.Errorf("sync campaign %s: %w", c.ID, err)
		}
		syncedAt = &res.SyncedAt
	}
	err = h.store.SaveCampaign(ctx, store.SavedCampaign{RunID: p.RunID, ClientID: p.ClientID, ItemKey: p.ItemKey,
		Campaign: c, PlatformSyncedAt: syncedAt})
	if err != nil {
		return err
	}
	h.dbOutage.over()
	h.metrics.CampaignSaved(p.ClientID)
	h.log.DebugContext(ctx, "campaign saved", "client", p.ClientID, "run", p.RunID, "campaign", c.ID)
	return nil
}
