package mock

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// servedPage is a list answer with the campaigns left raw, so poison
// records can be checked field by field.
type servedPage struct {
	Data       []map[string]json.RawMessage `json:"data"`
	Pagination struct {
		Page    int  `json:"page"`
		Limit   int  `json:"limit"`
		Total   int  `json:"total"`
		HasMore bool `json:"has_more"`
	} `json:"pagination"`
}

// fetchAll reads every page of a client, following has_more.
func (b *bundle) fetchAll(t *testing.T, clientID, token string, limit int) (rows []map[string]json.RawMessage, totals []int) {
	t.Helper()
	for page := 1; ; page++ {
		a := b.list(t, clientID, token, fmt.Sprintf("?page=%d&limit=%d", page, limit))
		require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
		var p servedPage
		a.decode(t, &p)
		require.Equal(t, page, p.Pagination.Page)
		require.Equal(t, limit, p.Pagination.Limit)
		require.LessOrEqual(t, len(p.Data), limit)
		rows = append(rows, p.Data...)
		totals = append(totals, p.Pagination.Total)
		if !p.Pagination.HasMore {
			return rows, totals
		}
		require.Len(t, p.Data, limit, "only the last page is short")
	}
}

// requireServedAs checks a served campaign against the ground truth,
// including how a poison record is malformed.
func requireServedAs(t *testing.T, got map[string]json.RawMessage, want Campaign) {
	t.Helper()
	str := func(field string) string {
		var s string
		require.NoError(t, json.Unmarshal(got[field], &s), "%s of %s: %s", field, want.ID, got[field])
		return s
	}
	integer := func(field string) int64 {
		n, err := strconv.ParseInt(string(got[field]), 10, 64)
		require.NoError(t, err, "%s of %s: %s", field, want.ID, got[field])
		return n
	}
	fields := []string{"id", "name", "status", "budget", "impressions", "clicks", "conversions", "created_at"}
	if want.Poison == poisonMissingName.reason() {
		fields = slices.DeleteFunc(fields, func(f string) bool { return f == "name" })
	} else {
		require.Equal(t, want.Name, str("name"))
	}
	require.ElementsMatch(t, fields, rawKeys(got), "fields of %s", want.ID)
	require.Equal(t, want.ID, str("id"))
	require.Equal(t, want.Clicks, integer("clicks"))
	require.Equal(t, want.Conversions, integer("conversions"))

	if want.Poison == poisonStatusNumber.reason() {
		require.Equal(t, want.Status, string(got["status"]), "status sent as a number")
	} else {
		require.Equal(t, want.Status, str("status"))
	}
	if want.Poison == poisonBudgetString.reason() {
		b, err := strconv.ParseFloat(str("budget"), 64)
		require.NoError(t, err)
		require.Equal(t, want.Budget, b)
	} else {
		var b float64
		require.NoError(t, json.Unmarshal(got["budget"], &b))
		require.Equal(t, want.Budget, b)
	}
	if want.Poison == poisonImpressionsFraction.reason() {
		require.Equal(t, strconv.FormatInt(want.Impressions, 10)+".5", string(got["impressions"]))
	} else {
		require.Equal(t, want.Impressions, integer("impressions"))
	}
	created := str("created_at")
	if want.Poison == poisonCreatedAtLayout.reason() {
		_, err := time.Parse(time.RFC3339, created)
		require.Error(t, err, "created_at %q must not be RFC 3339", created)
		require.Equal(t, want.CreatedAt.Format(badCreatedAtLayout), created)
	} else {
		at, err := time.Parse(time.RFC3339, created)
		require.NoError(t, err)
		require.True(t, at.Equal(want.CreatedAt), "created_at %s, want %s", created, want.CreatedAt)
		require.Equal(t, want.CreatedAt.Format(time.RFC3339Nano), created, "sent in its own zone")
	}
}

func TestCatalogueMatchesEveryServedPage(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Campaigns = 23
	cfg.PoisonEvery = 3
	b := setup(t, cfg, nil)
	tok := b.token(t, "")

	for _, id := range []string{"", "acme", "Zürich 7"} {
		want := Catalogue(cfg, cmp.Or(id, defaultClientID), cfg.Campaigns)
		for _, limit := range []int{1, 7, 10, 23, 100} {
			rows, totals := b.fetchAll(t, id, tok, limit)
			require.Len(t, rows, len(want), "client %q limit %d", id, limit)
			for i, row := range rows {
				requireServedAs(t, row, want[i])
			}
			for _, total := range totals {
				require.Equal(t, 23, total)
			}
		}
	}
}

func TestCatalogueGrowsAfterTheFirstPage(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Campaigns = 23
	cfg.GrowBy = 5
	cfg.PoisonEvery = 4
	b := setup(t, cfg, nil)
	tok := b.token(t, "")

	require.Equal(t, 23, b.srv.CatalogueSize("grower"))
	rows, totals := b.fetchAll(t, "grower", tok, 10)
	require.Equal(t, []int{23, 28, 28}, totals, "total grows after the first page")
	require.Equal(t, 28, b.srv.CatalogueSize("grower"))
	want := Catalogue(cfg, "grower", b.srv.CatalogueSize("grower"))
	require.Len(t, rows, len(want), "following has_more finds every row")
	for i, row := range rows {
		requireServedAs(t, row, want[i])
	}
	require.Equal(t, 23, b.srv.CatalogueSize("someone-else"), "growth is per client")

	// It grows once.
	_, totals = b.fetchAll(t, "grower", tok, 100)
	require.Equal(t, []int{28}, totals)
	require.Equal(t, http.StatusOK, b.api(t, http.MethodPost, "/api/campaigns/campaign_27/sync", "grower", tok).status)
}

func TestSomeClientsHaveOtherCatalogueSizes(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Campaigns = 12
	cfg.ClientCampaigns = map[string]int{"big": 31, "none": 0}
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	for id, want := range map[string]int{"big": 31, "none": 0, "other": 12} {
		require.Equal(t, want, b.srv.CatalogueSize(id))
		rows, _ := b.fetchAll(t, id, tok, 10)
		require.Len(t, rows, want, "client %s", id)
	}
}

func TestCatalogueIsDeterministicAndPerClient(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	a := Catalogue(cfg, "a", 100)
	require.Equal(t, a, Catalogue(cfg, "a", 100))
	require.Equal(t, a[:10], Catalogue(cfg, "a", 10))
	require.Empty(t, Catalogue(cfg, "a", 0))

	other := Catalogue(cfg, "b", 100)
	cfg.Seed = 2
	reseeded := Catalogue(cfg, "a", 100)
	for i := range a {
		require.Equal(t, fmt.Sprintf("campaign_%d", i+1), a[i].ID)
		require.Equal(t, a[i].ID, other[i].ID, "ids repeat across clients")
		require.NotEqual(t, a[i], other[i], "a row saved under the wrong client is detectable")
		require.NotEqual(t, a[i], reseeded[i])
		require.Empty(t, a[i].Poison)
		require.LessOrEqual(t, a[i].Conversions, a[i].Clicks)
		require.LessOrEqual(t, a[i].Clicks, a[i].Impressions)
		require.Positive(t, a[i].Budget)
		require.True(t, utf8.ValidString(a[i].Name))
	}
}

func TestNamesCarryHostileText(t *testing.T) {
	t.Parallel()
	all := ""
	fractional, whole := 0, 0
	zones := map[string]bool{}
	for _, c := range Catalogue(DefaultConfig(), defaultClientID, 100) {
		all += c.Name + "\n"
		if c.Budget == float64(int64(c.Budget)) {
			whole++
		} else {
			fractional++
		}
		zones[c.CreatedAt.Format("Z07:00")] = true
	}
	for _, want := range []string{`"`, `'`, ";", "DROP TABLE campaigns", "é", "日本"} {
		require.Contains(t, all, want)
	}
	require.Positive(t, fractional)
	require.Positive(t, whole)
	require.Len(t, zones, 3, "created_at comes in several offsets")
}

func TestPoisonCyclesThroughEveryKind(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.PoisonEvery = 2
	cat := Catalogue(cfg, "p", 2*poisonKinds+2)
	var reasons []string
	for i, c := range cat {
		if (i+1)%2 != 0 {
			require.Empty(t, c.Poison, c.ID)
			continue
		}
		require.NotEmpty(t, c.Poison, "campaign_%d", i+1)
		reasons = append(reasons, c.Poison)
	}
	require.Equal(t, []string{
		"id: empty", "budget: negative", "budget: string instead of number",
		"created_at: not RFC 3339", "status: number instead of string",
		"impressions: number with a fraction", "name: missing", "id: empty",
	}, reasons)
	require.Empty(t, cat[1].ID)
	require.Negative(t, cat[3].Budget)
	require.Empty(t, cat[13].Name)
}

func TestPageDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	tok := b.token(t, "")
	page := func(query string) (servedPage, answer) {
		a := b.list(t, "", tok, query)
		require.Equal(t, http.StatusOK, a.status, "%s: %s", query, a.body)
		var p servedPage
		a.decode(t, &p)
		return p, a
	}

	p, a := page("")
	require.Equal(t, 1, p.Pagination.Page)
	require.Equal(t, 10, p.Pagination.Limit)
	require.Equal(t, 100, p.Pagination.Total)
	require.True(t, p.Pagination.HasMore)
	require.Len(t, p.Data, 10)
	require.Empty(t, a.header.Get("X-Limit-Capped"))

	p, _ = page("?page=10")
	require.False(t, p.Pagination.HasMore, "10 pages of 10")
	require.Len(t, p.Data, 10)

	p, a = page("?limit=100000")
	require.Equal(t, 100, p.Pagination.Limit)
	require.Len(t, p.Data, 100)
	require.False(t, p.Pagination.HasMore)
	require.Equal(t, "requested=100000 max=100", a.header.Get("X-Limit-Capped"))

	p, a = page("?limit=99999999999999999999999&page=1")
	require.Equal(t, 100, p.Pagination.Limit)
	require.Equal(t, "requested=99999999999999999999999 max=100", a.header.Get("X-Limit-Capped"))

	for _, query := range []string{"?page=11", "?page=3&limit=50", "?page=99999999999999999999999", fmt.Sprintf("?page=%d", int64(^uint64(0)>>1))} {
		p, a = page(query)
		require.False(t, p.Pagination.HasMore, query)
		require.Equal(t, 100, p.Pagination.Total, query)
		require.Equal(t, "[]", compact(t, a.body, "data"), "past the end: empty data, not null")
	}

	p, _ = page("?page=2&limit=30&other=ignored")
	require.Equal(t, "campaign_31", mustString(t, p.Data[0]["id"]))
}

func TestBadPageParametersAnswer400(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	tok := b.token(t, "")
	for query, message := range map[string]string{
		"?page=abc":                          `page must be a positive integer, got "abc"`,
		"?page=0":                            `page must be 1 or more, got "0"`,
		"?page=-1":                           `page must be 1 or more, got "-1"`,
		"?page=":                             `page must be a positive integer, got ""`,
		"?page=1.5":                          "page must be a positive integer",
		"?page=%201":                         "page must be a positive integer",
		"?page=-99999999999999999999999":     "page must be a positive integer",
		"?limit=0":                           `limit must be 1 or more, got "0"`,
		"?limit=-1":                          `limit must be 1 or more, got "-1"`,
		"?limit=ten":                         `limit must be a positive integer, got "ten"`,
		"?limit=1e3":                         "limit must be a positive integer",
		"?page=%zz":                          "malformed query string",
		"?page=1;x=2":                        "malformed query string",
		"?page=" + strings.Repeat("9a", 200): "page must be a positive integer",
	} {
		a := b.list(t, "", tok, query)
		require.Equal(t, http.StatusBadRequest, a.status, query)
		e := a.apiErr(t)
		require.Equal(t, "Bad request", e.Error)
		require.Contains(t, e.Message, message, query)
		require.Less(t, len(e.Message), 200, "long input is cut in the message")
	}
}

func TestSyncCall(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.PoisonEvery = 5
	clock := newFakeClock()
	b := setup(t, cfg, clock)
	tok := b.token(t, "")

	a := b.api(t, http.MethodPost, "/api/campaigns/campaign_7/sync", "", tok)
	require.Equal(t, http.StatusOK, a.status)
	var ok map[string]any
	a.decode(t, &ok)
	require.Equal(t, map[string]any{
		"success": true, "campaign_id": "campaign_7",
		"synced_at": "2025-03-01T12:00:00.000Z", "message": "Campaign synced successfully",
	}, ok)

	// Poison records answer normally, unless their id is empty: campaign_5
	// is sent with id "", so no campaign has that id.
	for _, id := range []string{"campaign_10", "campaign_15", "campaign_20", "campaign_100"} {
		require.Equal(t, http.StatusOK, b.api(t, http.MethodPost, "/api/campaigns/"+id+"/sync", "", tok).status, id)
	}
	for _, id := range []string{"campaign_5", "campaign_0", "campaign_101", "campaign_01", "campaign_+1", "campaign_-1",
		"campaign_", "campaign_1x", "Campaign_1", "foo", "", "campaign_1/x", "campaign_99999999999999999999999", "%E2%9C%93"} {
		a := b.api(t, http.MethodPost, "/api/campaigns/"+id+"/sync", "", tok)
		require.Equal(t, http.StatusNotFound, a.status, id)
		require.Equal(t, "Campaign not found", a.apiErr(t).Error, id)
	}
	a = b.api(t, http.MethodGet, "/api/campaigns/campaign_1/sync", "", tok)
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
	require.Equal(t, http.MethodPost, a.header.Get("Allow"))
	require.Zero(t, b.srv.Stats().Clients[defaultClientID].Requests[EndpointSync]["405"], "a wrong method is not an API call")
}

func TestVolatileMetricsChangeOnEveryCall(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.VolatileMetrics = true
	cfg.PoisonEvery = 6 // poison records change too
	b := setup(t, cfg, nil)
	tok := b.token(t, "")
	read := func() []map[string]json.RawMessage {
		var p servedPage
		b.list(t, "", tok, "?limit=100").decode(t, &p)
		return p.Data
	}
	first, second := read(), read()
	want := Catalogue(cfg, defaultClientID, 100)
	for i := range first {
		for _, field := range []string{"impressions", "clicks", "conversions"} {
			require.NotEqual(t, string(first[i][field]), string(second[i][field]), "%s of campaign_%d", field, i+1)
		}
		for _, field := range []string{"id", "name", "status", "budget", "created_at"} {
			require.Equal(t, string(first[i][field]), string(second[i][field]))
		}
		if want[i].Poison != "" {
			continue
		}
		var imp, clicks, conv int64
		require.NoError(t, json.Unmarshal(second[i]["impressions"], &imp))
		require.NoError(t, json.Unmarshal(second[i]["clicks"], &clicks))
		require.NoError(t, json.Unmarshal(second[i]["conversions"], &conv))
		require.Greater(t, imp, want[i].Impressions, "metrics only grow")
		require.LessOrEqual(t, conv, clicks)
		require.LessOrEqual(t, clicks, imp)
	}
}

// compact returns one top-level field of a JSON object, compacted.
func compact(t *testing.T, body []byte, field string) string {
	t.Helper()
	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &obj))
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, obj[field]))
	return buf.String()
}

func mustString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	require.NoError(t, json.Unmarshal(raw, &s))
	return s
}
