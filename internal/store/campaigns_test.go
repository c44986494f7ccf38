package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/campaign"
)

// A metric the platform sent as null is stored as NULL and reads back as
// unknown; the others keep their values.
func TestNullMetricsStoredAsNull(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run := startRun(t, st, "acme", 2)
	c := savedOf(run, 1)
	c.Campaign.Impressions, c.Campaign.Clicks = 50, 5
	c.Campaign.Unknown = campaign.MetricBudget | campaign.MetricConversions
	require.NoError(t, st.SaveCampaign(ctx, c))
	require.NoError(t, st.SaveCampaign(ctx, savedOf(run, 2)))

	var nulls int
	require.NoError(t, st.pool.QueryRow(ctx, `SELECT count(*) FROM campaigns
		WHERE id = 'campaign_1' AND budget IS NULL AND conversions IS NULL AND impressions = 50 AND clicks = 5`).Scan(&nulls))
	require.Equal(t, 1, nulls)
	rows, err := st.Campaigns(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, campaign.MetricBudget|campaign.MetricConversions, rows[0].Unknown)
	require.Equal(t, int64(50), rows[0].Impressions)
	require.Zero(t, rows[1].Unknown)
	require.Equal(t, "10.50", rows[1].Budget)
}
