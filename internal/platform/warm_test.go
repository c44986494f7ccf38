package platform

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/secret"
	"github.com/adsync/adsync/internal/testenv"
)

// warmBundle is a mock platform and a Client against it whose clients are
// the mock's accounts' ids given.
type warmBundle struct {
	mock   *mock.Server
	client *Client
}

func setupWarm(t *testing.T, mc mock.Config, ids ...string) *warmBundle {
	t.Helper()
	mc.Accounts = []mock.Account{{Email: testEmail, Password: testPassword}}
	srv, err := mock.NewServer(mc)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}
	c, err := New(Options{
		BaseURL: hs.URL, Timeout: 5 * time.Second, Limiter: &countingLimiter{},
		Credentials: func(id string) (Credentials, bool) {
			return Credentials{Email: testEmail, Password: secret.Secret(testPassword)}, known[id]
		},
	})
	require.NoError(t, err)
	return &warmBundle{mock: srv, client: c}
}

// keepTokens runs KeepTokens for ids until the test ends.
func (b *warmBundle) keepTokens(t *testing.T, ids ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.client.KeepTokens(ctx, func() []string { return ids }) }()
	t.Cleanup(func() { cancel(); <-done })
}

// tokens is how many tokens the mock issued to a client.
func (b *warmBundle) tokens(clientID string) int64 {
	return b.mock.Stats().Clients[clientID].Requests[mock.EndpointAuth]["200"]
}

// Each configured client's token is fetched at start, before any request
// needs it: the first counted request finds it ready and fetches none.
// A client without credentials is skipped.
func TestFirstRequestFindsItsTokenReady(t *testing.T) {
	t.Parallel()
	mc := mock.DefaultConfig()
	mc.HangPercent, mc.FailEvery = 0, 0
	b := setupWarm(t, mc, "acme", "globex")
	b.keepTokens(t, "acme", "globex", "unknown")
	testenv.WaitFor(t, 5*time.Second, "a token for each client", func() bool {
		return b.tokens("acme") == 1 && b.tokens("globex") == 1
	})
	require.Zero(t, b.mock.Stats().Clients["acme"].Counted, "fetched before any counted request")

	_, err := b.client.ListCampaigns(context.Background(), "acme", 1, 10)
	require.NoError(t, err)
	st := b.mock.Stats().Clients["acme"]
	require.EqualValues(t, 1, st.Counted)
	require.EqualValues(t, 1, b.tokens("acme"), "the request fetched no token of its own")
	require.NotContains(t, b.mock.Stats().Clients, "unknown")
}

// A token is replaced before it expires with no request asking for it, so
// an idle worker still holds a valid one when the next run starts.
func TestTokensReplacedBeforeExpiryWhileIdle(t *testing.T) {
	t.Parallel()
	mc := mock.DefaultConfig()
	mc.HangPercent, mc.FailEvery = 0, 0
	mc.TimeScale, mc.TokenTTL = 60, 180*time.Second // tokens live 3 s, replaced from 2 s on
	b := setupWarm(t, mc, "acme")
	b.keepTokens(t, "acme")
	testenv.WaitFor(t, 10*time.Second, "a second token", func() bool { return b.tokens("acme") >= 2 })
	require.Zero(t, b.mock.Stats().Clients["acme"].Counted)

	_, err := b.client.ListCampaigns(context.Background(), "acme", 1, 10)
	require.NoError(t, err)
	require.Zero(t, b.mock.Stats().Clients["acme"].Requests[mock.EndpointList]["401"], "the token in use had not expired")
}
