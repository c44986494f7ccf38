package mock

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// pageOf fetches one page of limit 10 and decodes it.
func (b *bundle) pageOf(t *testing.T, clientID, token string, page int) servedPage {
	t.Helper()
	a := b.list(t, clientID, token, fmt.Sprintf("?page=%d&limit=10", page))
	require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
	var p servedPage
	a.decode(t, &p)
	return p
}

// idsOf returns the ids of a served page.
func idsOf(t *testing.T, p servedPage) []string {
	t.Helper()
	out := make([]string, len(p.Data))
	for i, row := range p.Data {
		out[i] = string(row["id"])
	}
	return out
}

// From MOCK_EMPTY_FROM on, every page is empty and still says has_more,
// however far past the end.
func TestEmptyPagesWithHasMore(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Campaigns, cfg.EmptyFrom = 30, 2
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	require.Len(t, b.pageOf(t, "a", tok, 1).Data, 10)
	for _, n := range []int{2, 3, 4, 50} {
		p := b.pageOf(t, "a", tok, n)
		require.Empty(t, p.Data, "page %d", n)
		require.True(t, p.Pagination.HasMore, "page %d", n)
		require.Equal(t, n, p.Pagination.Page)
		require.Equal(t, 30, p.Pagination.Total)
	}
}

// From MOCK_REPEAT_FROM on, every page answers the page before it again,
// with the page number asked for.
func TestRepeatedPages(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Campaigns, cfg.RepeatFrom = 50, 3
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	second := b.pageOf(t, "a", tok, 2)
	for _, n := range []int{3, 4, 9} {
		p := b.pageOf(t, "a", tok, n)
		require.Equal(t, idsOf(t, second), idsOf(t, p), "page %d", n)
		require.Equal(t, n, p.Pagination.Page)
		require.True(t, p.Pagination.HasMore)
	}
}

// MOCK_NULL_EVERY sends null metrics on every Kth campaign, cycling through
// the metrics, and Campaign.Nulls says which.
func TestNullMetrics(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Campaigns, cfg.NullEvery = 10, 2
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	p := b.pageOf(t, "a", tok, 1)
	want := Catalogue(cfg, "a", 10)
	for i, row := range p.Data {
		nulls := map[string]bool{}
		for _, m := range want[i].Nulls {
			nulls[m] = true
		}
		require.Equal(t, (i+1)%2 == 0, len(nulls) > 0, "campaign %d", i+1)
		for _, m := range []string{"budget", "impressions", "clicks", "conversions"} {
			require.Equal(t, nulls[m], string(row[m]) == "null", "%s of campaign %d: %s", m, i+1, row[m])
		}
	}
	require.Equal(t, []string{"conversions"}, want[1].Nulls)
	require.Len(t, want[9].Nulls, 4, "the fifth null campaign has all four null")
}

// MOCK_CHANGE_AFTER_PAGE inserts and deletes at the front once the page is
// served: every later campaign moves, so a client paging on meets a page
// that repeats a campaign (an insert) or skips one (a delete).
// GET /__mock/catalogue and Server.Catalogue show the catalogue as it
// stands, and RestoreDeleted brings the deleted campaigns back.
func TestCatalogueChangesUnderAPagingClient(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Campaigns, cfg.ChangeAfterPage, cfg.Insert, cfg.Delete = 30, 1, 1, 2
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	first := b.pageOf(t, "a", tok, 1)
	require.Equal(t, `"campaign_1"`, idsOf(t, first)[0])
	second := b.pageOf(t, "a", tok, 2)
	require.Equal(t, 29, second.Pagination.Total, "one inserted, two deleted")
	require.Equal(t, `"campaign_12"`, idsOf(t, second)[0], "campaign_11 moved onto page 1, unseen")

	cat := b.srv.Catalogue("a")
	require.Len(t, cat, 29)
	require.Equal(t, "campaign_31", cat[0].ID, "the new campaign comes first")
	require.Equal(t, "campaign_3", cat[1].ID)
	require.Equal(t, http.StatusNotFound, b.api(t, http.MethodPost, "/api/campaigns/campaign_1/sync", "a", tok).status)
	require.Equal(t, http.StatusOK, b.api(t, http.MethodPost, "/api/campaigns/campaign_31/sync", "a", tok).status)

	a := b.do(t, http.MethodGet, "/__mock/catalogue?client=a", nil)
	require.Equal(t, http.StatusOK, a.status)
	var served struct {
		Client    string
		Total     int
		Campaigns []map[string]any
	}
	a.decode(t, &served)
	require.Equal(t, 29, served.Total)
	require.Equal(t, "campaign_31", served.Campaigns[0]["id"])

	b.pageOf(t, "a", tok, 1)
	require.Len(t, b.srv.Catalogue("a"), 29, "the change happens once")
	require.Equal(t, 2, b.srv.RestoreDeleted("a"))
	cat = b.srv.Catalogue("a")
	require.Len(t, cat, 31)
	require.Equal(t, []string{"campaign_1", "campaign_2", "campaign_31"}, []string{cat[0].ID, cat[1].ID, cat[2].ID})
	require.Zero(t, b.srv.RestoreDeleted("a"))
	require.Len(t, b.srv.Catalogue("b"), 30, "other clients are unchanged")
}
