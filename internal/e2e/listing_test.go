package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/progress"
	"github.com/adsync/adsync/internal/store"
)

// syncCounted runs one sync of the client and returns the run and the list
// requests it made: answered 200, and in all.
func syncCounted(t *testing.T, b *bundle, clientID string) (run store.Run, ok, all int64) {
	t.Helper()
	ok0, all0 := listAnswers(b, clientID)
	run = b.sync(t, clientID)[0]
	ok1, all1 := listAnswers(b, clientID)
	t.Logf("run %d: %s after %d list requests (%d answered 200), %d reconcile passes, %d marked removed; reason %q",
		run.ID, run.Status, all1-all0, ok1-ok0, run.ListPass, run.CampaignsRemoved, run.Reason)
	return run, ok1 - ok0, all1 - all0
}

// syncAcme syncs client acme once against a mock configured by mc,
// through a worker of its own, without sync calls.
func syncAcme(t *testing.T, mc mock.Config) (b *bundle, run store.Run, ok, all int64) {
	t.Helper()
	b = setup(t, mc, []string{"acme"}, listingEnv)
	b.startWorker(t)
	run, ok, all = syncCounted(t, b, "acme")
	return b, run, ok, all
}

// A platform that answers an empty page with has_more true from page 3 on:
// the listing ends there instead of paging forever, the records of pages 1
// and 2 are saved, and the run ends incomplete (exit 1) naming the page.
func TestListingEndsOnEmptyPageWithHasMore(t *testing.T) {
	t.Parallel()
	mc := quietMock(50)
	mc.EmptyFrom = 3
	b, run, ok, all := syncAcme(t, mc)

	require.Equal(t, store.StatusIncomplete, run.Status)
	require.Regexp(t, `^page [345] came back empty with has_more true$`, run.Reason)
	require.Equal(t, 1, progress.ExitCode([]store.Run{run}))
	require.Equal(t, int64(5), ok, "pages 1..5, planned from the first total; none past them")
	require.Equal(t, ok, all)
	present, removed := listed(t, b, "acme")
	require.Equal(t, idsFrom(1, 20), present, "the records of pages 1 and 2, by id")
	require.Empty(t, removed)
	require.Zero(t, run.CampaignsRemoved)
}

// A platform that ignores page answers page 2 again from page 3 on: the
// listing ends on the repeat, the records it got are saved, and the run
// ends incomplete naming the page.
func TestListingEndsOnRepeatedPage(t *testing.T) {
	t.Parallel()
	mc := quietMock(50)
	mc.RepeatFrom = 3
	b, run, ok, all := syncAcme(t, mc)

	require.Equal(t, store.StatusIncomplete, run.Status)
	require.Regexp(t, `^page \d+ repeats the ids of page \d+$`, run.Reason)
	require.Equal(t, 1, progress.ExitCode([]store.Run{run}))
	// Pages 1..5 are planned from the first total; a repeated page says
	// has_more, and at most one page past them is fetched before a repeat
	// shows next to it.
	require.GreaterOrEqual(t, ok, int64(5))
	require.LessOrEqual(t, ok, int64(6))
	require.Equal(t, ok, all)
	present, removed := listed(t, b, "acme")
	require.Equal(t, idsFrom(1, 20), present)
	require.Empty(t, removed)
}

// A campaign is deleted and two are created right after page 1 is served,
// all at the front: every later campaign moves down a place, so
// campaign_10 shows on two pages and the total changes. The run lists
// again, saves every campaign present at start and end plus the new ones,
// and marks the deleted one removed. Restored on the platform, the next run
// un-marks it; a run of the unchanged account after that marks nothing and
// lists once.
func TestListingSurvivesDeleteAndInsert(t *testing.T) {
	t.Parallel()
	mc := quietMock(50)
	mc.ChangeAfterPage, mc.Insert, mc.Delete = 1, 2, 1
	start := idsFrom(1, 50)
	b, run, ok, all := syncAcme(t, mc)

	require.Equal(t, store.StatusDone, run.Status, "reason: %s", run.Reason)
	require.Equal(t, 1, run.ListPass, "one reconcile pass")
	end := catalogueIDs(t, b, "acme")
	require.Equal(t, idsFrom(2, 52), end)
	present, removed := listed(t, b, "acme")
	require.Equal(t, end, present, "every campaign on the platform at the end is stored and not removed")
	require.Equal(t, []string{"campaign_1"}, removed)
	require.Equal(t, 1, run.CampaignsRemoved)
	for _, id := range intersect(start, end) {
		require.Equal(t, run.ID, stored(t, b, "acme")[id].RunID, "%s present at start and end is saved by the run", id)
	}
	// The first pass: five pages from the first total, and page 6 that
	// page 5's has_more showed; the reconcile pass: six pages of 51.
	require.Equal(t, int64(12), ok)
	require.Equal(t, ok, all)

	require.Equal(t, 1, b.mock.RestoreDeleted("acme"))
	back, ok, _ := syncCounted(t, b, "acme")
	require.Equal(t, store.StatusDone, back.Status, "reason: %s", back.Reason)
	require.Zero(t, back.ListPass)
	require.Zero(t, back.CampaignsRemoved)
	require.Equal(t, int64(6), ok, "52 campaigns: one pass of six pages")
	present, removed = listed(t, b, "acme")
	require.Equal(t, catalogueIDs(t, b, "acme"), present)
	require.Empty(t, removed, "campaign_1 is listed again: no longer marked removed")

	again, ok, _ := syncCounted(t, b, "acme")
	require.Equal(t, store.StatusDone, again.Status)
	require.Zero(t, again.ListPass)
	require.Zero(t, again.CampaignsRemoved, "a rerun of an unchanged account marks nothing removed")
	require.Equal(t, int64(6), ok)
}

// Five campaigns are deleted right after page 1: the total shrinks from 50
// to 45 and campaigns 11..15 slip onto page 1, unseen. The reconcile pass
// saves them; the five deleted are marked removed.
func TestListingSurvivesShrinkingTotal(t *testing.T) {
	t.Parallel()
	mc := quietMock(50)
	mc.ChangeAfterPage, mc.Delete = 1, 5
	b, run, ok, all := syncAcme(t, mc)

	require.Equal(t, store.StatusDone, run.Status, "reason: %s", run.Reason)
	require.Equal(t, 1, run.ListPass)
	present, removed := listed(t, b, "acme")
	require.Equal(t, catalogueIDs(t, b, "acme"), present)
	require.Equal(t, idsFrom(6, 50), present)
	require.Equal(t, idsFrom(1, 5), removed)
	require.Equal(t, 5, run.CampaignsRemoved)
	require.Equal(t, int64(10), ok, "five pages planned from total 50, then five from total 45")
	require.Equal(t, ok, all)
}

// Every 5th campaign has null metrics: each is stored with those columns
// NULL and the others as sent, and nothing is dead-lettered.
func TestNullMetricsAreStoredAsNull(t *testing.T) {
	t.Parallel()
	mc := quietMock(50)
	mc.NullEvery = 5
	b, run, ok, _ := syncAcme(t, mc)

	require.Equal(t, store.StatusDone, run.Status, "reason: %s", run.Reason)
	require.Zero(t, run.CampaignsDead)
	require.Equal(t, int64(5), ok)
	got := stored(t, b, "acme")
	nulls := 0
	for _, want := range b.mock.Catalogue("acme") {
		g, found := got[want.ID]
		require.True(t, found, "%s stored", want.ID)
		unknown := map[string]bool{}
		for _, m := range want.Nulls {
			unknown[m] = true
			nulls++
		}
		require.Equal(t, unknown["budget"], g.Unknown.Has(campaignMetric("budget")), "budget of %s", want.ID)
		require.Equal(t, unknown["impressions"], g.Unknown.Has(campaignMetric("impressions")), "impressions of %s", want.ID)
		require.Equal(t, unknown["clicks"], g.Unknown.Has(campaignMetric("clicks")), "clicks of %s", want.ID)
		require.Equal(t, unknown["conversions"], g.Unknown.Has(campaignMetric("conversions")), "conversions of %s", want.ID)
		if !unknown["impressions"] {
			require.Equal(t, want.Impressions, g.Impressions, "impressions of %s", want.ID)
		}
		if !unknown["conversions"] {
			require.Equal(t, want.Conversions, g.Conversions, "conversions of %s", want.ID)
		}
	}
	require.Equal(t, 16, nulls, "ten campaigns with nulls: four single ones twice, then all four twice")
	require.Len(t, got, 50)
}

// A run failed by a page marks nothing removed, though its listing did not
// show the campaigns of that page: the campaigns stored by the run before
// stay unmarked.
func TestFailedRunMarksNothingRemoved(t *testing.T) {
	t.Parallel()
	b, proxy := setupBehind(t, quietMock(50), []string{"acme"}, map[string]string{"SYNC_CALL": "false", "TASK_MAX_RETRY": "1"})
	b.startWorker(t)
	first, _, _ := syncCounted(t, b, "acme")
	require.Equal(t, store.StatusDone, first.Status)

	proxy.failPage.Store(3)
	run, ok, _ := syncCounted(t, b, "acme")
	require.Equal(t, store.StatusFailed, run.Status)
	require.Contains(t, run.Reason, "page 3")
	require.Equal(t, int64(4), ok, "pages 1, 2, 4 and 5 reached the platform")
	present, removed := listed(t, b, "acme")
	require.Equal(t, catalogueIDs(t, b, "acme"), present, "campaigns 21..30 were not listed by the failed run, and stay")
	require.Empty(t, removed)
	require.Zero(t, run.CampaignsRemoved)
}
