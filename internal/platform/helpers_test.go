package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adsync/adsync/internal/secret"
	"github.com/adsync/adsync/internal/testenv"
	"github.com/stretchr/testify/require"
)

const (
	testClient   = "acme"
	testEmail    = "admin@example.com"
	testPassword = "SuperSecret123!"
)

// fakePlatform is a small stand-in for the ad platform: it issues tokens for
// the test credentials, accepts only tokens it issued and has not revoked,
// and serves a valid page or sync answer unless a test replaces a handler.
type fakePlatform struct {
	// Handlers; a test replaces them through setup, before the server starts.
	auth, list, sync http.HandlerFunc
	// tokenLife is the expires_in of issued tokens, in seconds.
	tokenLife float64

	mu        sync.Mutex
	issued    int
	valid     map[string]bool
	requests  map[string]int // by route: "auth", "list", "sync"
	clientIDs []string       // X-Client-ID of every request
	unauth    int            // 401s served by the API routes
}

func newFakePlatform() *fakePlatform {
	fp := &fakePlatform{
		tokenLife: 3600,
		valid:     make(map[string]bool),
		requests:  make(map[string]int),
	}
	fp.auth, fp.list, fp.sync = fp.issueToken, fp.servePage, fp.serveSync
	return fp
}

func (fp *fakePlatform) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /auth/token", fp.record("auth", fp.auth))
	mux.Handle("GET /api/campaigns", fp.record("list", fp.authorized(fp.list)))
	mux.Handle("POST /api/campaigns/{id}/sync", fp.record("sync", fp.authorized(fp.sync)))
	return mux
}

// record counts the request and notes its X-Client-ID.
func (fp *fakePlatform) record(route string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fp.mu.Lock()
		fp.requests[route]++
		fp.clientIDs = append(fp.clientIDs, r.Header.Get("X-Client-ID"))
		fp.mu.Unlock()
		next(w, r)
	}
}

// authorized answers 401 "Token expired" unless the Bearer token is valid.
func (fp *fakePlatform) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		fp.mu.Lock()
		ok = ok && fp.valid[tok]
		if !ok {
			fp.unauth++
		}
		fp.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusUnauthorized, `{"error":"Token expired","message":"Token has expired","expired_at":"2024-01-01T00:00:00Z"}`)
			return
		}
		next(w, r)
	}
}

func (fp *fakePlatform) issueToken(w http.ResponseWriter, r *http.Request) {
	email, password, ok := r.BasicAuth()
	if !ok || email != testEmail || password != testPassword {
		writeJSON(w, http.StatusUnauthorized, `{"error":"Invalid credentials","message":"Email or password is incorrect"}`)
		return
	}
	fp.mu.Lock()
	fp.issued++
	tok := fmt.Sprintf("tok-%d-%s", fp.issued, strings.Repeat("x", 20))
	fp.valid[tok] = true
	fp.mu.Unlock()
	writeJSON(w, http.StatusOK, fmt.Sprintf(
		`{"access_token":%q,"token_type":"Bearer","expires_in":%v,"issued_at":%d}`,
		tok, fp.tokenLife, time.Now().Unix()))
}

func (fp *fakePlatform) servePage(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	writeJSON(w, http.StatusOK, fmt.Sprintf(
		`{"data":[{"id":"campaign_1","name":"A; \"quoted\" ünïcode"},{"id":"campaign_2","budget":"not a number"}],`+
			`"pagination":{"page":%d,"limit":%d,"total":100,"has_more":%t}}`, page, limit, page < 10))
}

func (fp *fakePlatform) serveSync(w http.ResponseWriter, r *http.Request) {
	id, _ := json.Marshal(r.PathValue("id"))
	writeJSON(w, http.StatusOK, fmt.Sprintf(
		`{"success":true,"campaign_id":%s,"synced_at":"2024-05-06T07:08:09Z","message":"Campaign synced"}`, id))
}

// revokeAll makes every issued token expired, as the platform does when a
// token outlives expires_in.
func (fp *fakePlatform) revokeAll() {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	clear(fp.valid)
}

// count returns the requests served on a route.
func (fp *fakePlatform) count(route string) int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.requests[route]
}

func (fp *fakePlatform) tokensIssued() int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.issued
}

func (fp *fakePlatform) unauthorized() int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.unauth
}

func (fp *fakePlatform) seenClientIDs() []string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]string(nil), fp.clientIDs...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// countingLimiter is a Limiter that counts calls and grants every Wait,
// unless waitErr is set: then every Wait after the first grantFirst fails
// with it.
type countingLimiter struct {
	waitErr    error
	grantFirst int64

	waits  atomic.Int64
	mu     sync.Mutex
	blocks []blockCall
}

type blockCall struct {
	clientID string
	d        time.Duration
}

func (l *countingLimiter) Wait(_ context.Context, _ string) error {
	if l.waits.Add(1) <= l.grantFirst {
		return nil
	}
	return l.waitErr
}

func (l *countingLimiter) Block(_ context.Context, clientID string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blocks = append(l.blocks, blockCall{clientID, d})
	return nil
}

func (l *countingLimiter) blockCalls() []blockCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]blockCall(nil), l.blocks...)
}

// recordingObserver records every call.
type recordingObserver struct {
	mu        sync.Mutex
	requests  []observed
	refreshed []string
	hedged    []string
}

type observed struct {
	clientID, endpoint string
	outcome            Outcome
}

func (o *recordingObserver) Request(clientID, endpoint string, outcome Outcome, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, observed{clientID, endpoint, outcome})
}

func (o *recordingObserver) Hedged(clientID, endpoint string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hedged = append(o.hedged, clientID+" "+endpoint)
}

func (o *recordingObserver) TokenRefreshed(clientID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refreshed = append(o.refreshed, clientID)
}

// hedges lists the hedges observed, as "client endpoint".
func (o *recordingObserver) hedges() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.hedged...)
}

// outcomes lists the outcomes observed for one endpoint, in order.
func (o *recordingObserver) outcomes(endpoint string) []Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Outcome
	for _, r := range o.requests {
		if r.endpoint == endpoint {
			out = append(out, r.outcome)
		}
	}
	return out
}

func (o *recordingObserver) refreshes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.refreshed)
}

type testBundle struct {
	client   *Client
	platform *fakePlatform
	server   *httptest.Server
	limiter  *countingLimiter
	observer *recordingObserver
	clock    *testenv.Clock
}

// setup starts a fake platform and a Client for testClient against it.
// configure may change the options and the fake before the server starts.
func setup(t *testing.T, configure ...func(*Options, *fakePlatform)) *testBundle {
	t.Helper()
	b := &testBundle{
		platform: newFakePlatform(),
		limiter:  &countingLimiter{},
		observer: &recordingObserver{},
		clock:    testenv.NewClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	opts := Options{
		Timeout: 5 * time.Second,
		Credentials: func(clientID string) (Credentials, bool) {
			return Credentials{Email: testEmail, Password: secret.Secret(testPassword)}, clientID == testClient
		},
		Limiter:  b.limiter,
		Observer: b.observer,
	}
	for _, f := range configure {
		f(&opts, b.platform)
	}
	b.server = httptest.NewServer(b.platform.handler())
	t.Cleanup(b.server.Close)
	opts.BaseURL = b.server.URL
	client, err := New(opts)
	require.NoError(t, err)
	client.tokens.now = b.clock.Now
	b.client = client
	return b
}

// asError asserts err is or wraps an *Error and returns it.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.ErrorAs(t, err, &e)
	return e
}
