package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// ids returns items campaign_from..campaign_to.
func ids(from, to int) []Item {
	var out []Item
	for i := from; i <= to; i++ {
		key := fmt.Sprintf("campaign_%d", i)
		out = append(out, Item{Key: key, Record: []byte(`{"id":"` + key + `"}`)})
	}
	return out
}

// page records one page of the run's current pass with the given total
// and returns the result.
func page(t *testing.T, st *Store, run Run, n int, its []Item, total int, hasMore bool, through int) PageResult {
	t.Helper()
	res, err := st.RecordPage(context.Background(), FetchedPage{RunID: run.ID, Page: n, Items: its, PlanThrough: through,
		Total: total, HasMore: hasMore, ReconcilePasses: 2})
	require.NoError(t, err)
	return res
}

// saveAllOf saves every item of the pages given.
func saveAllOf(t *testing.T, st *Store, run Run, its ...[]Item) {
	t.Helper()
	for _, page := range its {
		for _, it := range page {
			require.NoError(t, st.SaveCampaign(context.Background(), saved(run.ID, it.Key)))
		}
	}
}

// An empty page that says has_more ends the listing: nothing more is
// planned, and once the records it did get are saved the run ends
// incomplete with a reason naming the page.
func TestEmptyPageWithHasMoreEndsListing(t *testing.T) {
	st := setup(t)
	run, err := st.CreateRun(context.Background(), "acme")
	require.NoError(t, err)
	res := page(t, st, run, 1, ids(1, 10), 30, true, 3)
	require.Equal(t, []int{2, 3}, res.PendingPages)
	page(t, st, run, 2, ids(11, 20), 30, true, 3)
	res = page(t, st, run, 3, nil, 30, true, 4)
	require.Empty(t, res.PendingPages, "an empty page plans nothing")
	require.Equal(t, "page 3 came back empty with has_more true", res.Problem)
	saveAllOf(t, st, run, ids(1, 20))
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusIncomplete, got.Status)
	require.Equal(t, "page 3 came back empty with has_more true", got.Reason)
	require.Equal(t, 20, got.CampaignsSaved)
	require.Zero(t, got.CampaignsRemoved)
}

// A page with the ids of the page before it (a platform that ignores page)
// ends the listing whichever of the two is recorded first.
func TestRepeatedPageEndsListing(t *testing.T) {
	st := setup(t)
	run, err := st.CreateRun(context.Background(), "acme")
	require.NoError(t, err)
	page(t, st, run, 1, ids(1, 10), 30, true, 3)
	page(t, st, run, 3, ids(11, 20), 30, true, 4)
	res := page(t, st, run, 2, ids(11, 20), 30, true, 3)
	require.Equal(t, "page 3 repeats the ids of page 2", res.Problem)
	// Page 4 was planned by page 3 before the repeat showed; it plans
	// nothing more.
	res = page(t, st, run, 4, ids(11, 20), 30, true, 5)
	require.Empty(t, res.PendingPages)
	saveAllOf(t, st, run, ids(1, 20))
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusIncomplete, got.Status)
	require.Equal(t, "page 3 repeats the ids of page 2", got.Reason)
	require.Equal(t, 4, got.PagesPlanned, "page 5 was never planned")
}

// A listing that moved (a campaign deleted after page 1: the total drops
// and campaign_11 slips onto page 1, unseen) is listed again; the
// reconcile pass finds campaign_11, and the run, now clean, marks the
// deleted campaign removed. A later run that lists it again clears the
// mark, and one that lists the same account again marks nothing.
func TestDriftIsReconciledAndRemovalsMarked(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	page(t, st, run, 1, ids(1, 10), 20, true, 2)
	res := page(t, st, run, 2, ids(12, 20), 19, false, 0)
	require.Equal(t, 1, res.Pass, "the pass saw the listing move: a reconcile pass follows")
	require.Equal(t, []int{1}, res.PendingPages)
	saveAllOf(t, st, run, ids(1, 10), ids(12, 20))
	require.Equal(t, StatusRunning, mustRun(t, st, run.ID).Status, "the reconcile pass is pending")

	after := append(ids(2, 10), ids(11, 11)...)
	res = page(t, st, run, 1, after, 19, true, 2)
	require.Equal(t, 1, res.Pass)
	require.Equal(t, []int{2}, res.PendingPages)
	require.Equal(t, []Item{ids(11, 11)[0]}, res.PendingItems, "only the campaign the first pass missed is new")
	page(t, st, run, 2, ids(12, 20), 19, false, 0)
	saveAllOf(t, st, run, ids(11, 11))
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusDone, got.Status, "reason: %s", got.Reason)
	require.Equal(t, 1, got.ListPass)
	require.Equal(t, 1, got.CampaignsRemoved)
	require.Equal(t, map[string]bool{"campaign_1": true}, removedOf(t, st))

	// The campaign is listed again: the next clean run clears its mark.
	again, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	page(t, st, again, 1, ids(1, 10), 20, true, 2)
	page(t, st, again, 2, ids(11, 20), 20, false, 0)
	saveAllOf(t, st, again, ids(1, 20))
	got = mustRun(t, st, again.ID)
	require.Equal(t, StatusDone, got.Status)
	require.Zero(t, got.ListPass)
	require.Zero(t, got.CampaignsRemoved)
	require.Empty(t, removedOf(t, st))
}

// A listing still moving in its last allowed pass ends incomplete, and an
// incomplete run marks nothing removed.
func TestDriftBeyondTheLastPassIsIncomplete(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	first, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	page(t, st, first, 1, ids(1, 10), 10, false, 1)
	saveAllOf(t, st, first, ids(1, 10))
	require.Equal(t, StatusDone, mustRun(t, st, first.ID).Status)

	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	for pass := 0; pass <= 2; pass++ {
		res := page(t, st, run, 1, ids(2, 10), 10+pass, false, 1) // nine ids, a total that keeps growing
		if pass < 2 {
			require.Equal(t, pass+1, res.Pass)
		}
	}
	saveAllOf(t, st, run, ids(2, 10))
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusIncomplete, got.Status)
	require.Contains(t, got.Reason, "the listing still moved in its last pass")
	require.Contains(t, got.Reason, "9 distinct ids for a total of 12")
	require.Empty(t, removedOf(t, st), "campaign_1 is not listed, but an incomplete run marks nothing")
}

// A run failed by its first page comes back to running when the page is
// replayed and comes through, plans its other pages, and ends done.
func TestReplayedPageRevivesRun(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	run, err := st.CreateRun(ctx, "acme")
	require.NoError(t, err)
	require.NoError(t, st.RecordDeadLetter(ctx, DeadLetter{TaskID: "p1", TaskType: "campaigns:fetch_page",
		RunID: run.ID, ClientID: "acme", Page: 1, Reason: "503", Payload: []byte(`{}`)}))
	require.Equal(t, StatusFailed, mustRun(t, st, run.ID).Status)

	res := page(t, st, run, 1, ids(1, 10), 20, true, 2)
	require.Equal(t, []int{2}, res.PendingPages)
	got := mustRun(t, st, run.ID)
	require.Equal(t, StatusRunning, got.Status)
	require.Nil(t, got.FinishedAt)
	page(t, st, run, 2, ids(11, 20), 20, false, 0)
	saveAllOf(t, st, run, ids(1, 20))
	got = mustRun(t, st, run.ID)
	require.Equal(t, StatusDone, got.Status)
	require.Empty(t, got.Reason)
	dead, err := st.DeadLetters(ctx, run.ID)
	require.NoError(t, err)
	require.NotNil(t, dead[0].ResolvedAt)
}

// removedOf returns the ids of acme's campaigns marked removed.
func removedOf(t *testing.T, st *Store) map[string]bool {
	t.Helper()
	rows, err := st.Campaigns(context.Background(), "acme")
	require.NoError(t, err)
	out := map[string]bool{}
	for _, r := range rows {
		if r.RemovedAt != nil {
			out[r.ID] = true
		}
	}
	return out
}
