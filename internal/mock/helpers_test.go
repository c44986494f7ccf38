package mock

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Reference credentials of the default account.
const (
	refEmail    = "admin@mixoads.com"
	refPassword = "SuperSecret123!"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// quietConfig is the default configuration with every fault, delay and
// limit off; tests switch on what they test.
func quietConfig() Config {
	cfg := DefaultConfig()
	cfg.RateLimit = 0
	cfg.FailEvery = 0
	cfg.HangPercent = 0
	cfg.SyncDelay = 0
	return cfg
}

// bundle is one mock behind a real loopback HTTP server.
type bundle struct {
	srv   *Server
	ts    *httptest.Server
	cfg   Config
	clock *fakeClock // nil: real time
}

// setup starts a mock; a nil clock means real time. At the end it checks
// that no request reached the recover middleware.
func setup(t *testing.T, cfg Config, clock *fakeClock) *bundle {
	t.Helper()
	now := time.Now
	if clock != nil {
		now = clock.now
	}
	srv, err := newServer(cfg, now)
	require.NoError(t, err)
	srv.log = slog.New(slog.DiscardHandler)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		require.Zero(t, srv.panics.Load(), "a request reached the recover middleware")
	})
	return &bundle{srv: srv, ts: ts, cfg: cfg, clock: clock}
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.body, v), "body: %s", a.body)
}

// apiErr decodes an error body.
func (a answer) apiErr(t *testing.T) apiError {
	t.Helper()
	var e apiError
	a.decode(t, &e)
	require.NotEmpty(t, e.Error, "body: %s", a.body)
	require.NotEmpty(t, e.Message, "body: %s", a.body)
	return e
}

// headers for one request; empty values are not sent.
type headers map[string]string

// do sends a request and checks what every answer of the mock must be:
// JSON, without a stack trace, never a 500.
func (b *bundle) do(t *testing.T, method, target string, h headers) answer {
	t.Helper()
	a, err := b.doCtx(context.Background(), method, target, h)
	require.NoError(t, err)
	return a
}

// doCtx is do under a context, for requests that may hang.
func (b *bundle) doCtx(ctx context.Context, method, target string, h headers) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.ts.URL+target, nil)
	if err != nil {
		return answer{}, err
	}
	for k, v := range h {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := b.ts.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// checkAnswer asserts the properties every answer has.
func checkAnswer(t *testing.T, a answer) {
	t.Helper()
	require.Equal(t, "application/json", a.header.Get("Content-Type"), "body: %s", a.body)
	require.True(t, json.Valid(a.body), "not JSON: %s", a.body)
	require.NotEqual(t, http.StatusInternalServerError, a.status, "body: %s", a.body)
	for _, trace := range []string{"goroutine ", ".go:", "panic"} {
		require.NotContains(t, string(a.body), trace)
	}
}

// basic is a Basic Authorization header value.
func basic(email, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+password))
}

// token fetches an access token for the reference account.
func (b *bundle) token(t *testing.T, clientID string) string {
	t.Helper()
	a := b.do(t, http.MethodPost, "/auth/token", headers{
		"Authorization": basic(refEmail, refPassword), "X-Client-ID": clientID,
	})
	checkAnswer(t, a)
	require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
	var tok tokenAnswer
	a.decode(t, &tok)
	return tok.AccessToken
}

// api sends an /api request as a client with a token.
func (b *bundle) api(t *testing.T, method, target, clientID, token string) answer {
	t.Helper()
	a := b.do(t, method, target, headers{"Authorization": "Bearer " + token, "X-Client-ID": clientID})
	checkAnswer(t, a)
	return a
}

// list fetches a list page.
func (b *bundle) list(t *testing.T, clientID, token, query string) answer {
	t.Helper()
	return b.api(t, http.MethodGet, "/api/campaigns"+query, clientID, token)
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// hangingRequest starts a request expected to get no answer and returns
// once the mock holds it; the channel yields the client's result.
func (b *bundle) hangingRequest(t *testing.T, ctx context.Context, method, target, clientID, token string) <-chan error {
	t.Helper()
	before := b.srv.waiting.Load()
	done := make(chan error, 1)
	go func() {
		a, err := b.doCtx(ctx, method, target, headers{"Authorization": "Bearer " + token, "X-Client-ID": clientID})
		if err == nil {
			err = &unexpectedAnswer{a}
		}
		done <- err
	}()
	waitFor(t, "the mock to hold the request", func() bool { return b.srv.waiting.Load() > before })
	return done
}

// unexpectedAnswer is a hung request that got an answer after all.
type unexpectedAnswer struct{ a answer }

func (u *unexpectedAnswer) Error() string {
	return "unexpected answer " + http.StatusText(u.a.status) + ": " + strings.TrimSpace(string(u.a.body))
}
