package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/testenv"
)

// Names with SQL injection payloads, quotes and unicode are stored
// verbatim.
func TestHostileTextStoredVerbatim(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 40
	b := setup(t, mc, []string{"acme"}, map[string]string{"SYNC_CALL": "false"})
	b.startWorker(t)
	runs := b.sync(t, "acme")
	require.Equal(t, store.StatusDone, runs[0].Status)
	b.requireGroundTruth(t, "acme")

	got, err := b.store.Campaigns(context.Background(), "acme")
	require.NoError(t, err)
	var injection, unicode bool
	for _, c := range got {
		injection = injection || strings.Contains(c.Name, "DROP TABLE")
		unicode = unicode || utf8.RuneCountInString(c.Name) < len(c.Name)
	}
	require.True(t, injection, "the mock's catalogue should hold an SQL injection payload in a name")
	require.True(t, unicode, "the mock's catalogue should hold a non-ASCII name")
}

// Another program spent the client's budget: the platform answers 429 with
// the wait only in its body (no Retry-After header, as the reference does).
// adsync honours the body's wait, blocks the client for every worker, and
// the run completes.
func TestRateLimitWaitOnlyInBody(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 20
	mc.FailEvery, mc.HangPercent = 0, 0
	require.False(t, mc.RetryAfterHeader)
	b := setup(t, mc, []string{"acme"}, nil)
	// The worker is up before the window is spent: at this time scale the
	// window lasts a second, which a worker still starting (under the race
	// detector, beside other tests) can let pass before its first request.
	b.startWorker(t)
	testenv.WaitFor(t, 30*time.Second, "the worker to start", func() bool {
		return strings.Contains(b.logs.String(), `"msg":"worker started"`)
	})

	// Exhaust the client's window from outside adsync.
	token := fetchToken(t, b)
	for i := 0; i < mc.RateLimit; i++ {
		req, _ := http.NewRequest(http.MethodGet, b.cfg.PlatformURL+"/api/campaigns?page=1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Client-ID", "acme")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	runs := b.sync(t, "acme")
	require.Equal(t, store.StatusDone, runs[0].Status, "reason: %s", runs[0].Reason)
	b.requireGroundTruth(t, "acme")
	st := b.mock.Stats().Clients["acme"]
	require.GreaterOrEqual(t, st.RateLimited, int64(1), "the first request should have met a 429")
	require.LessOrEqual(t, st.RateLimited, int64(2), "after a 429 the client's budget is blocked, not hammered")
}

func fetchToken(t *testing.T, b *bundle) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.cfg.PlatformURL+"/auth/token", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(email+":"+password)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}
