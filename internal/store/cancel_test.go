package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Cancelling a removed client's runs ends its running run with the reason,
// leaves its other clients' runs and its data alone, and is idempotent: the
// second worker to notice the removal finds nothing to do.
func TestCancelClientRunsIsIdempotentAndKeepsData(t *testing.T) {
	s := setup(t)
	ctx := context.Background()
	gone, err := s.CreateRun(ctx, "gone")
	require.NoError(t, err)
	stays, err := s.CreateRun(ctx, "stays")
	require.NoError(t, err)
	_, err = s.RecordPage(ctx, FetchedPage{RunID: gone.ID, Page: 1, PlanThrough: 2,
		Items: []Item{{Key: "campaign_1", Record: []byte(`{"id":"campaign_1"}`)}}})
	require.NoError(t, err)

	ids, err := s.CancelClientRuns(ctx, "gone", "client removed from the clients configuration")
	require.NoError(t, err)
	require.Equal(t, []int64{gone.ID}, ids)
	ids, err = s.CancelClientRuns(ctx, "gone", "again")
	require.NoError(t, err)
	require.Empty(t, ids, "the second call finds no running run")

	r, err := s.Run(ctx, gone.ID)
	require.NoError(t, err)
	require.Equal(t, StatusCancelled, r.Status)
	require.True(t, r.Finished())
	require.Equal(t, "client removed from the clients configuration", r.Reason)
	require.NotNil(t, r.FinishedAt)
	require.Equal(t, 1, r.CampaignsSeen, "the ledger of the run is kept")
	u, err := s.UnfinishedWork(ctx, gone.ID)
	require.NoError(t, err)
	require.Len(t, u.Items, 1, "its items are kept, not deleted")

	other, err := s.Run(ctx, stays.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, other.Status)

	// A page fetched later for the cancelled run enqueues nothing.
	res, err := s.RecordPage(ctx, FetchedPage{RunID: gone.ID, Page: 2})
	require.NoError(t, err)
	require.True(t, res.Cancelled)
	require.Empty(t, res.PendingPages)
	require.Empty(t, res.PendingItems)
	// The client can be synced again once it is configured again.
	_, err = s.CreateRun(ctx, "gone")
	require.NoError(t, err)
}

func TestRunAgeAndLatestRuns(t *testing.T) {
	s := setup(t)
	ctx := context.Background()
	first, err := s.CreateRun(ctx, "acme")
	require.NoError(t, err)
	require.NoError(t, s.FailRun(ctx, first.ID, "boom"))
	second, err := s.CreateRun(ctx, "acme")
	require.NoError(t, err)

	age, err := s.RunAgeOf(ctx, second.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, age.Status)
	require.False(t, age.Finished())
	require.GreaterOrEqual(t, age.Age, time.Duration(0))
	_, err = s.RunAgeOf(ctx, 999999)
	require.ErrorIs(t, err, ErrRunNotFound)

	latest, err := s.LatestRuns(ctx, []string{"never", "acme"})
	require.NoError(t, err)
	require.Len(t, latest, 2)
	require.Equal(t, "never", latest[0].ClientID)
	require.Nil(t, latest[0].Run)
	require.Equal(t, second.ID, latest[1].Run.ID)
}
