package mock

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := setup(t, DefaultConfig(), clock)
	require.NoError(t, b.srv.SetFaults(Faults{DownAll: true, HangAll: true}))
	clock.advance(1500 * time.Millisecond)

	a := b.do(t, http.MethodGet, "/health", nil)
	checkAnswer(t, a)
	require.Equal(t, http.StatusOK, a.status, "faults never touch /health")
	var h map[string]any
	a.decode(t, &h)
	require.Equal(t, map[string]any{"status": "ok", "timestamp": "2025-03-01T12:00:01.500Z", "uptime": 1.5}, h)
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	for _, target := range []string{"/", "/api", "/api/", "/api/campaigns/", "/api/campaigns/sync", "/api/campaigns/x",
		"/api/campaigns/x/sync/", "/auth/token/", "/healthz", "/__mock/", "/API/CAMPAIGNS", "/" + strings.Repeat("x", 5000)} {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			a := b.do(t, method, target, nil)
			checkAnswer(t, a)
			require.Equal(t, http.StatusNotFound, a.status, "%s %s", method, target)
			e := a.apiErr(t)
			require.Equal(t, "Not found", e.Error)
			require.Less(t, len(e.Message), 200)
		}
	}
	for target, allowed := range map[string]string{
		"/auth/token":                    "POST",
		"/api/campaigns":                 "GET",
		"/api/campaigns/campaign_1/sync": "POST",
		"/health":                        "GET",
		"/__mock/stats":                  "GET",
		"/__mock/reset":                  "POST",
		"/__mock/faults":                 "GET, POST",
	} {
		for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions} {
			a := b.do(t, method, target, nil)
			require.Equal(t, http.StatusMethodNotAllowed, a.status, "%s %s", method, target)
			require.Equal(t, allowed, a.header.Get("Allow"), "%s %s", method, target)
			if method != http.MethodHead {
				checkAnswer(t, a)
				require.Equal(t, "Method not allowed", a.apiErr(t).Error)
			}
		}
	}
	require.Empty(t, b.srv.Stats().Clients, "wrong routes are not API calls")
}

func TestRecoverAnswers500JSONWithoutAStackTrace(t *testing.T) {
	t.Parallel()
	srv, err := NewServer(quietConfig())
	require.NoError(t, err)
	srv.log = slog.New(slog.DiscardHandler)
	h := srv.recoverJSON(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom at handler.go:42")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var e apiError
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
	require.Equal(t, "Internal server error", e.Error)
	require.NotContains(t, rec.Body.String(), "boom")
	require.NotContains(t, rec.Body.String(), "goroutine")
	require.EqualValues(t, 1, srv.panics.Load())

	// The deliberate abort of a hung request passes through untouched.
	abortH := srv.recoverJSON(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		abortH.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	})
	require.EqualValues(t, 1, srv.panics.Load())
}

// FuzzServe throws arbitrary requests at the mock: every answer is JSON,
// none is a 500, and nothing reaches the recover middleware.
func FuzzServe(f *testing.F) {
	for _, seed := range []struct{ method, target, auth, client string }{
		{"GET", "/api/campaigns?page=2&limit=5", "Bearer x", ""},
		{"GET", "/api/campaigns?page=-1&limit=%00", "", "c"},
		{"POST", "/api/campaigns/campaign_1/sync", "Basic Zm9vOmJhcg==", "c"},
		{"POST", "/api/campaigns//sync", "Bearer ", "\u00e9"},
		{"POST", "/auth/token", "Basic !!!", ""},
		{"POST", "/__mock/faults", "", ""},
		{"GET", "/api/campaigns?limit=101&page=99999999999999999999", "", ""},
		{"GET", "/api/campaigns?page=3&limit=7", "good", "x"},
		{"POST", "/api/campaigns/campaign_4/sync", "good", ""},
		{"POST", "/api/campaigns/campaign_2/sync", "good", "y"},
	} {
		f.Add(seed.method, seed.target, seed.auth, seed.client)
	}
	cfg := quietConfig()
	cfg.RateLimit = 3
	cfg.PoisonEvery = 2
	cfg.GrowBy = 2
	srv, err := NewServer(cfg)
	require.NoError(f, err)
	srv.log = slog.New(slog.DiscardHandler)
	f.Cleanup(srv.Close)
	good := srv.issueToken(0, time.Now().Add(time.Hour))

	f.Fuzz(func(t *testing.T, method, target, auth, client string) {
		req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader("{}"))
		req.Method = method
		if u, err := req.URL.Parse(target); err == nil {
			req.URL = u
		}
		if auth == "good" { // a valid token, so fuzzing reaches the endpoints
			auth = "Bearer " + good
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Client-ID", client)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		require.True(t, json.Valid(rec.Body.Bytes()), "%s %s: %s", method, target, rec.Body.String())
		require.NotEqual(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
		require.Zero(t, srv.panics.Load())
	})
}
