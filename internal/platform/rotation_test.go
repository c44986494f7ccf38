package platform

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/secret"
)

// liveCreds is a credentials lookup that a test changes while the client
// runs, as the live client list does.
type liveCreds struct{ cur atomic.Pointer[Credentials] }

func (l *liveCreds) lookup(id string) (Credentials, bool) {
	c := l.cur.Load()
	if c == nil || id != testClient {
		return Credentials{}, false
	}
	return *c, true
}

// A changed password drops the client's cached token: the next request
// fetches a new one with the new credentials, before its token would
// have needed refreshing.
func TestRotatedCredentialsDropTheCachedToken(t *testing.T) {
	t.Parallel()
	live := &liveCreds{}
	live.cur.Store(&Credentials{Email: testEmail, Password: secret.Secret(testPassword)})
	var seen atomic.Pointer[string]
	b := setup(t, func(o *Options, fp *fakePlatform) {
		o.Credentials = live.lookup
		issue := fp.issueToken
		fp.auth = func(w http.ResponseWriter, r *http.Request) {
			_, pw, _ := r.BasicAuth()
			seen.Store(&pw)
			if pw == "rotated-Secret-2" { // the platform accepts the new password too
				r.SetBasicAuth(testEmail, testPassword)
			}
			issue(w, r)
		}
	})
	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.NoError(t, err)
	_, err = b.client.ListCampaigns(t.Context(), testClient, 2, 10)
	require.NoError(t, err)
	require.Equal(t, 1, b.platform.tokensIssued(), "one token while the credentials stay")

	live.cur.Store(&Credentials{Email: testEmail, Password: "rotated-Secret-2"})
	_, err = b.client.ListCampaigns(t.Context(), testClient, 3, 10)
	require.NoError(t, err)
	require.Equal(t, 2, b.platform.tokensIssued(), "the rotation dropped the token")
	require.Equal(t, "rotated-Secret-2", *seen.Load(), "the new token was fetched with the new password")
	require.Zero(t, b.platform.unauthorized())
}

// A client removed from the list while its request waits for rate budget
// does not send it: the lookup is made again after the wait.
func TestClientRemovedDuringTheWaitSendsNothing(t *testing.T) {
	t.Parallel()
	live := &liveCreds{}
	live.cur.Store(&Credentials{Email: testEmail, Password: secret.Secret(testPassword)})
	b := setup(t, func(o *Options, _ *fakePlatform) { o.Credentials = live.lookup })
	b.client.opts.Limiter = waitThen(func() { live.cur.Store(nil) })

	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.ErrorIs(t, err, ErrUnknownClient)
	require.Equal(t, KindPermanent, asError(t, err).Kind)
	require.Zero(t, b.platform.count("list"), "no request was sent")
}

// waitThen is a Limiter whose Wait runs f, then grants.
type waitThen func()

func (f waitThen) Wait(context.Context, string) error { f(); return nil }

func (waitThen) Block(context.Context, string, time.Duration) error {
	return errors.New("not expected")
}
