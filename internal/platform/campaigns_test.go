package platform

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/adsync/adsync/internal/secret"
	"github.com/stretchr/testify/require"
)

func TestListCampaigns(t *testing.T) {
	t.Parallel()
	var query, accept string
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		serve := fp.list
		fp.list = func(w http.ResponseWriter, r *http.Request) {
			query, accept = r.URL.RawQuery, r.Header.Get("Accept")
			serve(w, r)
		}
	})

	page, err := b.client.ListCampaigns(t.Context(), testClient, 3, 25)
	require.NoError(t, err)
	require.Equal(t, "limit=25&page=3", query)
	require.Equal(t, "application/json", accept)
	require.Equal(t, Pagination{Page: 3, Limit: 25, Total: 100, HasMore: true}, page.Pagination)
	require.Len(t, page.Data, 2)
	require.JSONEq(t, `{"id":"campaign_2","budget":"not a number"}`, string(page.Data[1]),
		"records stay raw: a bad record does not fail its page")
}

func TestListCampaignsRejectsBadArguments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.ListCampaigns(t.Context(), testClient, 0, 10)
	require.Equal(t, KindPermanent, asError(t, err).Kind)
	require.Zero(t, b.limiter.waits.Load(), "no budget spent on a request that cannot succeed")
	require.Zero(t, b.platform.count("list"))
}

func TestBrokenPageIsPermanent(t *testing.T) {
	t.Parallel()
	const pagination = `"pagination":{"page":1,"limit":10,"total":100,"has_more":true}`
	for _, tc := range []struct {
		name, contentType, body, reason string
	}{
		{"truncated JSON", "application/json", `{"data":[{"id":"c1"}`, "decode page: invalid JSON"},
		{"not an object", "application/json", `[1,2,3]`, "decode page: expected object, got array"},
		{"empty body", "application/json", ``, "decode page: empty body"},
		{"data missing", "application/json", `{` + pagination + `}`, "decode page: data: missing"},
		{"data null", "application/json", `{"data":null,` + pagination + `}`, "decode page: data: missing"},
		{"data not an array", "application/json", `{"data":{"id":"c1"},` + pagination + `}`, "decode page: data: expected array, got object"},
		{"pagination missing", "application/json", `{"data":[]}`, "decode page: pagination: missing"},
		{"pagination a string", "application/json", `{"data":[],"pagination":"1/10"}`, "decode page: pagination: expected object, got string"},
		{"page as string", "application/json", `{"data":[],"pagination":{"page":"1","limit":10,"total":100,"has_more":true}}`, "decode page: pagination.page: expected number, got string"},
		{"page fractional", "application/json", `{"data":[],"pagination":{"page":1.5,"limit":10,"total":100,"has_more":true}}`, "decode page: pagination.page: expected integer"},
		{"total missing", "application/json", `{"data":[],"pagination":{"page":1,"limit":10,"has_more":true}}`, "decode page: pagination.total: missing"},
		{"has_more as string", "application/json", `{"data":[],"pagination":{"page":1,"limit":10,"total":100,"has_more":"true"}}`, "decode page: pagination.has_more: expected bool, got string"},
		{"other page", "application/json", `{"data":[],"pagination":{"page":2,"limit":10,"total":100,"has_more":true}}`, "decode page: pagination.page: got 2, asked for 1"},
		{"HTML error page", "text/html; charset=utf-8", `<html><body>Bad gateway</body></html>`, "content type text/html, expected application/json"},
		{"no content type, not JSON", "", `<html></html>`, "decode page: expected object, got invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(_ *Options, fp *fakePlatform) {
				fp.list = func(w http.ResponseWriter, _ *http.Request) {
					w.Header()["Content-Type"] = []string{tc.contentType}
					_, _ = io.WriteString(w, tc.body)
				}
			})
			_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
			e := asError(t, err)
			require.Equal(t, KindPermanent, e.Kind)
			require.Equal(t, http.StatusOK, e.Status)
			require.ErrorContains(t, err, tc.reason)
			require.Equal(t, []Outcome{OutcomePermanent}, b.observer.outcomes("list"))
		})
	}
}

func TestSyncCampaign(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var rawPath, method, contentType string
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		serve := fp.sync
		fp.sync = func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			rawPath, method, contentType = r.URL.EscapedPath(), r.Method, r.Header.Get("Content-Type")
			mu.Unlock()
			serve(w, r)
		}
	})

	const id = "campaign 7/../x?y=1"
	res, err := b.client.SyncCampaign(t.Context(), testClient, id)
	require.NoError(t, err)
	require.Equal(t, &SyncResult{
		CampaignID: id,
		SyncedAt:   time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		Message:    "Campaign synced",
	}, res)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "/api/campaigns/campaign%207%2F..%2Fx%3Fy=1/sync", rawPath)
	require.Equal(t, http.MethodPost, method)
	require.Equal(t, "application/json", contentType)
	require.Equal(t, []Outcome{OutcomeOK}, b.observer.outcomes("sync"))
}

func TestSyncCampaignRejectsDotSegments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"", ".", ".."} {
		_, err := b.client.SyncCampaign(t.Context(), testClient, id)
		require.Equal(t, KindPermanent, asError(t, err).Kind)
	}
	require.Zero(t, b.limiter.waits.Load())
}

func TestSyncAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		kind       Kind
		message    string
	}{
		{"success=false", `{"success":false,"error":"Sync failed\n  at worker.js:1","message":"try later"}`, KindTransient,
			"platform: sync campaign campaign_1: status 200 (Sync failed): sync not done (success=false): transient"},
		{"success missing", `{"campaign_id":"campaign_1","synced_at":"2024-05-06T07:08:09Z"}`, KindPermanent,
			"platform: sync campaign campaign_1: status 200: decode sync: success: missing: permanent"},
		{"other campaign", `{"success":true,"campaign_id":"campaign_2","synced_at":"2024-05-06T07:08:09Z"}`, KindPermanent,
			"platform: sync campaign campaign_1: status 200: decode sync: campaign_id: does not match the campaign asked for: permanent"},
		{"bad time", `{"success":true,"campaign_id":"campaign_1","synced_at":"yesterday"}`, KindPermanent,
			"platform: sync campaign campaign_1: status 200: decode sync: synced_at: expected an RFC 3339 time: permanent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(_ *Options, fp *fakePlatform) {
				fp.sync = func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, tc.body) }
			})
			_, err := b.client.SyncCampaign(t.Context(), testClient, "campaign_1")
			require.Equal(t, tc.kind, asError(t, err).Kind)
			require.EqualError(t, err, tc.message)
			require.Equal(t, []Outcome{Outcome(tc.kind.String())}, b.observer.outcomes("sync"))
		})
	}
}

func TestXClientIDOnEveryRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options, _ *fakePlatform) {
		o.Credentials = func(string) (Credentials, bool) {
			return Credentials{Email: testEmail, Password: secret.Secret(testPassword)}, true
		}
	})

	for _, client := range []string{"acme", "globex"} {
		_, err := b.client.ListCampaigns(t.Context(), client, 1, 10)
		require.NoError(t, err)
		_, err = b.client.SyncCampaign(t.Context(), client, "campaign_1")
		require.NoError(t, err)
	}
	// Per client: auth, list, sync, in that order.
	require.Equal(t, []string{"acme", "acme", "acme", "globex", "globex", "globex"}, b.platform.seenClientIDs())
	require.Equal(t, 2, b.platform.tokensIssued(), "tokens are cached per client id")
}

func TestPageJSONTags(t *testing.T) {
	t.Parallel()
	out, err := json.Marshal(Page{Data: []json.RawMessage{json.RawMessage(`{}`)}, Pagination: Pagination{1, 10, 100, true}})
	require.NoError(t, err)
	require.JSONEq(t, `{"data":[{}],"pagination":{"page":1,"limit":10,"total":100,"has_more":true}}`, string(out))
}
