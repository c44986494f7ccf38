package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adsync/adsync/internal/campaign"
)

// SavedCampaign is one validated campaign ready to be written, with the run
// and item it settles.
type SavedCampaign struct {
	RunID    int64
	ClientID string
	ItemKey  string
	Campaign campaign.Campaign
	// PlatformSyncedAt is the platform's synced_at from the sync call, if
	// one was made.
	PlatformSyncedAt *time.Time
}

// SaveCampaign upserts the campaign and marks its item saved, in one
// transaction, so the row and the ledger never disagree. Saving the same
// campaign again overwrites it with the newer values.
//
// With WriteBatchSize above 1 that transaction is shared with the campaigns
// that concurrent tasks save at the same moment (group commit), and
// SaveCampaign returns nil only once it has committed; a campaign that
// PostgreSQL refuses fails only its own call, with its own error. When ctx
// ends first it returns ctx.Err() and the campaign may or may not be saved:
// saving it again is harmless.
func (s *Store) SaveCampaign(ctx context.Context, c SavedCampaign) error {
	var err error
	if s.saves != nil {
		err = s.saves.Do(ctx, c)
	} else {
		err = s.saveCampaigns(ctx, []SavedCampaign{c})
	}
	if err != nil {
		return fmt.Errorf("store: save campaign %q of client %s: %w", c.Campaign.ID, c.ClientID, sanitize(err))
	}
	return nil
}

// known is a metric's value to store: nil (NULL) when the platform sent it
// as null.
func known[T any](c campaign.Campaign, m campaign.Metrics, v T) *T {
	if c.Unknown.Has(m) {
		return nil
	}
	return &v
}

// StoredCampaign is a campaigns row as read back, for status output and
// tests. A NULL metric reads as its zero value with its flag in
// Campaign.Unknown.
type StoredCampaign struct {
	ClientID string
	campaign.Campaign
	SyncedAt time.Time
	RunID    int64
	// RemovedAt is when a run found the campaign no longer listed; nil
	// while the platform lists it.
	RemovedAt *time.Time
}

// Campaigns returns every stored campaign of a client, removed ones
// included, ordered by id.
func (s *Store) Campaigns(ctx context.Context, clientID string) ([]StoredCampaign, error) {
	rows, err := s.pool.Query(ctx, `SELECT client_id, id, name, status, budget::text, impressions, clicks,
		conversions, created_at, synced_at, coalesce(run_id, 0), removed_at FROM campaigns WHERE client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		return nil, fmt.Errorf("store: list campaigns of %s: %w", clientID, sanitize(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredCampaign, error) {
		var (
			c                                StoredCampaign
			budget                           *string
			impressions, clicks, conversions *int64
		)
		err := r.Scan(&c.ClientID, &c.ID, &c.Name, &c.Status, &budget, &impressions, &clicks,
			&conversions, &c.CreatedAt, &c.SyncedAt, &c.RunID, &c.RemovedAt)
		c.Budget = orZero(&c.Unknown, campaign.MetricBudget, budget)
		c.Impressions = orZero(&c.Unknown, campaign.MetricImpressions, impressions)
		c.Clicks = orZero(&c.Unknown, campaign.MetricClicks, clicks)
		c.Conversions = orZero(&c.Unknown, campaign.MetricConversions, conversions)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list campaigns of %s: %w", clientID, sanitize(err))
	}
	return out, nil
}

// orZero is known's inverse: the value read, or the zero value with the
// metric added to unknown when the column was NULL.
func orZero[T any](unknown *campaign.Metrics, m campaign.Metrics, v *T) T {
	if v == nil {
		*unknown |= m
		var zero T
		return zero
	}
	return *v
}
