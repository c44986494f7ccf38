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
func (s *Store) SaveCampaign(ctx context.Context, c SavedCampaign) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockRun(ctx, tx, c.RunID); err != nil {
			return err
		}
		if err := upsertCampaign(ctx, tx, c); err != nil {
			return err
		}
		if _, err := endItem(ctx, tx, c.RunID, c.ItemKey, itemSaved); err != nil {
			return err
		}
		return settle(ctx, tx, c.RunID)
	})
	if err != nil {
		return fmt.Errorf("store: save campaign %q of client %s: %w", c.Campaign.ID, c.ClientID, sanitize(err))
	}
	return nil
}

func upsertCampaign(ctx context.Context, tx pgx.Tx, c SavedCampaign) error {
	cp := c.Campaign
	_, err := tx.Exec(ctx, `
		INSERT INTO campaigns (client_id, id, name, status, budget, impressions, clicks, conversions,
			created_at, platform_synced_at, synced_at, run_id)
		VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10, now(), $11)
		ON CONFLICT (client_id, id) DO UPDATE SET
			name = EXCLUDED.name, status = EXCLUDED.status, budget = EXCLUDED.budget,
			impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks, conversions = EXCLUDED.conversions,
			created_at = EXCLUDED.created_at, platform_synced_at = EXCLUDED.platform_synced_at,
			synced_at = EXCLUDED.synced_at, run_id = EXCLUDED.run_id`,
		c.ClientID, cp.ID, cp.Name, cp.Status, cp.Budget, cp.Impressions, cp.Clicks, cp.Conversions,
		cp.CreatedAt, c.PlatformSyncedAt, c.RunID)
	return err
}

// StoredCampaign is a campaigns row as read back, for status output and
// tests.
type StoredCampaign struct {
	ClientID string
	campaign.Campaign
	SyncedAt time.Time
	RunID    int64
}

// Campaigns returns every stored campaign of a client, ordered by id.
func (s *Store) Campaigns(ctx context.Context, clientID string) ([]StoredCampaign, error) {
	rows, err := s.pool.Query(ctx, `SELECT client_id, id, name, status, budget::text, impressions, clicks,
		conversions, created_at, synced_at, coalesce(run_id, 0) FROM campaigns WHERE client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		return nil, fmt.Errorf("store: list campaigns of %s: %w", clientID, sanitize(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredCampaign, error) {
		var c StoredCampaign
		err := r.Scan(&c.ClientID, &c.ID, &c.Name, &c.Status, &c.Budget, &c.Impressions, &c.Clicks,
			&c.Conversions, &c.CreatedAt, &c.SyncedAt, &c.RunID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list campaigns of %s: %w", clientID, sanitize(err))
	}
	return out, nil
}
