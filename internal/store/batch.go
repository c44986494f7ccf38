package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adsync/adsync/internal/campaign"
)

// saveCampaigns writes a batch of saved campaigns in one transaction: it
// locks their runs, upserts every campaign in one statement, moves their
// items to saved in another, and settles the runs. It succeeds or fails as
// a whole.
func (s *Store) saveCampaigns(ctx context.Context, cs []SavedCampaign) error {
	runIDs, keys := make([]int64, len(cs)), make([]string, len(cs))
	for i, c := range cs {
		runIDs[i], keys[i] = c.RunID, c.ItemKey
	}
	return s.inLedgerTx(ctx, func(tx pgx.Tx) ([]int64, error) {
		if err := lockRuns(ctx, tx, runIDs); err != nil {
			return nil, err
		}
		if err := upsertCampaigns(ctx, tx, cs); err != nil {
			return nil, err
		}
		return runIDs, endItems(ctx, tx, itemSaved, runIDs, keys)
	})
}

// lockRuns takes the row locks of the runs named, for the rest of the
// transaction, in id order: two transactions that lock overlapping sets of
// runs (the batches of two worker processes) then queue instead of
// deadlocking. A run the ledger does not hold is ErrRunNotFound.
func lockRuns(ctx context.Context, tx pgx.Tx, ids []int64) error {
	rows, err := tx.Query(ctx, `SELECT id FROM sync_runs WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return err
	}
	locked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, found := slices.BinarySearch(locked, id); !found {
			return fmt.Errorf("run %d: %w", id, ErrRunNotFound)
		}
	}
	return nil
}

// upsertCampaigns inserts or overwrites the campaigns in one statement, fed
// by one array per column. Rows are written in (client_id, id) order, so
// concurrent batches lock campaign rows in the same order; of two rows of
// one campaign in a batch (a task delivered twice) the later one wins.
func upsertCampaigns(ctx context.Context, tx pgx.Tx, cs []SavedCampaign) error {
	n := len(cs)
	var (
		clients, ids, names, statuses, budgets = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
		impressions, clicks, conversions, runs = make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]int64, n)
		created, platformSynced                = make([]time.Time, n), make([]*time.Time, n)
	)
	for i, c := range cs {
		cp := c.Campaign
		clients[i], ids[i], names[i], statuses[i], budgets[i] = c.ClientID, cp.ID, cp.Name, cp.Status, known(cp, campaign.MetricBudget, cp.Budget)
		impressions[i], clicks[i], conversions[i], runs[i] = known(cp, campaign.MetricImpressions, cp.Impressions),
			known(cp, campaign.MetricClicks, cp.Clicks), known(cp, campaign.MetricConversions, cp.Conversions), c.RunID
		created[i], platformSynced[i] = cp.CreatedAt, c.PlatformSyncedAt
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO campaigns (client_id, id, name, status, budget, impressions, clicks, conversions,
			created_at, platform_synced_at, synced_at, run_id)
		SELECT DISTINCT ON (client_id, id) client_id, id, name, status, budget::numeric, impressions, clicks,
			conversions, created_at, platform_synced_at, now(), run_id
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
			$8::bigint[], $9::timestamptz[], $10::timestamptz[], $11::bigint[]) WITH ORDINALITY
			AS u(client_id, id, name, status, budget, impressions, clicks, conversions, created_at,
				platform_synced_at, run_id, ord)
		ORDER BY client_id, id, ord DESC
		ON CONFLICT (client_id, id) DO UPDATE SET
			name = EXCLUDED.name, status = EXCLUDED.status, budget = EXCLUDED.budget,
			impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks, conversions = EXCLUDED.conversions,
			created_at = EXCLUDED.created_at, platform_synced_at = EXCLUDED.platform_synced_at,
			synced_at = EXCLUDED.synced_at, run_id = EXCLUDED.run_id`,
		clients, ids, names, statuses, budgets, impressions, clicks, conversions, created, platformSynced, runs)
	return err
}
