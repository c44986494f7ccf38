package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/campaign"
	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/store"
)

// quietMock is the mock at time scale 60 with no 503s and no hangs, so a
// test can count list requests exactly, and a catalogue of n campaigns
// (pages of 10).
func quietMock(n int) mock.Config {
	mc := mockConfig()
	mc.Campaigns = n
	mc.FailEvery, mc.HangPercent = 0, 0
	return mc
}

// listingEnv are the overrides of the listing tests: no sync call, so every
// counted request is a list request.
var listingEnv = map[string]string{"SYNC_CALL": "false"}

// catalogueIDs reads the client's catalogue as it stands from the mock
// over HTTP (GET /__mock/catalogue), as a sorted list of ids.
func catalogueIDs(t *testing.T, b *bundle, clientID string) []string {
	t.Helper()
	// Through the proxy, if the bundle has one: it passes /__mock/ on.
	code, body := opstest.Call(t, http.MethodGet, b.cfg.PlatformURL+"/__mock/catalogue?client="+clientID, "", "")
	require.Equal(t, http.StatusOK, code, body)
	var cat struct {
		Total     int `json:"total"`
		Campaigns []struct {
			ID string `json:"id"`
		} `json:"campaigns"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &cat))
	require.Len(t, cat.Campaigns, cat.Total)
	ids := make([]string, len(cat.Campaigns))
	for i, c := range cat.Campaigns {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	return ids
}

// stored returns the client's stored campaigns by id.
func stored(t *testing.T, b *bundle, clientID string) map[string]store.StoredCampaign {
	t.Helper()
	rows, err := b.store.Campaigns(context.Background(), clientID)
	require.NoError(t, err)
	out := make(map[string]store.StoredCampaign, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

// listed returns the ids of stored campaigns not marked removed, and of
// those marked removed, each sorted.
func listed(t *testing.T, b *bundle, clientID string) (present, removed []string) {
	t.Helper()
	present, removed = []string{}, []string{}
	for id, c := range stored(t, b, clientID) {
		if c.RemovedAt == nil {
			present = append(present, id)
		} else {
			removed = append(removed, id)
		}
	}
	sort.Strings(present)
	sort.Strings(removed)
	return present, removed
}

// listAnswers returns how many list requests of the client the mock
// answered 200, and how many it saw in all, since its last reset.
func listAnswers(b *bundle, clientID string) (ok, all int64) {
	for outcome, n := range b.mock.Stats().Clients[clientID].Requests[mock.EndpointList] {
		all += n
		if outcome == "200" {
			ok += n
		}
	}
	return ok, all
}

// idsFrom returns campaign_from..campaign_to, sorted as strings.
func idsFrom(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, campaignID(i))
	}
	sort.Strings(out)
	return out
}

func campaignID(n int) string { return "campaign_" + strconv.Itoa(n) }

// faultyProxy stands in front of the bundle's mock and answers 503 itself,
// without the mock seeing the request, to the list request of one page or
// the sync call of one campaign while told to: a platform that fails one
// page or one record, which the mock's knobs cannot aim at.
type faultyProxy struct {
	target   atomic.Pointer[mock.Server]
	failPage atomic.Int64
	failSync atomic.Pointer[string]
}

// setupBehind is setup with the platform reached through a new proxy.
func setupBehind(t *testing.T, mc mock.Config, clientIDs []string, overrides map[string]string) (*bundle, *faultyProxy) {
	t.Helper()
	p := &faultyProxy{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failPage, failSync := p.failPage.Load(), p.failSync.Load()
		switch {
		case failPage > 0 && r.URL.Path == "/api/campaigns" && r.URL.Query().Get("page") == strconv.FormatInt(failPage, 10),
			failSync != nil && r.URL.Path == "/api/campaigns/"+*failSync+"/sync":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"Service temporarily unavailable","message":"proxy"}`))
		default:
			p.target.Load().ServeHTTP(w, r)
		}
	}))
	t.Cleanup(hs.Close)
	vars := map[string]string{"PLATFORM_URL": hs.URL}
	for k, v := range overrides {
		vars[k] = v
	}
	b := setup(t, mc, clientIDs, vars)
	p.target.Store(b.mock) // no request is made before the test starts a worker
	return b, p
}

// intersect returns the ids in both sorted lists.
func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, id := range b {
		in[id] = true
	}
	var out []string
	for _, id := range a {
		if in[id] {
			out = append(out, id)
		}
	}
	return out
}

// campaignMetric maps a metric's JSON name to its flag.
func campaignMetric(name string) campaign.Metrics {
	return map[string]campaign.Metrics{"budget": campaign.MetricBudget, "impressions": campaign.MetricImpressions,
		"clicks": campaign.MetricClicks, "conversions": campaign.MetricConversions}[name]
}
