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

// rotatedPlatform makes the fake accept only password on its token
// endpoint, as a platform does once the password was changed there.
func rotatedPlatform(password string) func(*Options, *fakePlatform) {
	return func(_ *Options, fp *fakePlatform) {
		issue := fp.issueToken
		fp.auth = func(w http.ResponseWriter, r *http.Request) {
			if _, pw, _ := r.BasicAuth(); pw == password {
				r.SetBasicAuth(testEmail, testPassword)
			} else {
				r.SetBasicAuth(testEmail, "wrong")
			}
			issue(w, r)
		}
	}
}

// The platform refuses the password and the configuration, read again at
// once, has a new one: the token is fetched with it straight away, in the
// same call, and the call succeeds.
func TestRefusalReadsTheConfigurationAgain(t *testing.T) {
	t.Parallel()
	live := &liveCreds{}
	live.cur.Store(&Credentials{Email: testEmail, Password: "old-Secret-1"})
	b := setup(t, rotatedPlatform("rotated-Secret-2"), func(o *Options, _ *fakePlatform) { o.Credentials = live.lookup })
	var reloads atomic.Int64
	b.client.ReloadWith(func(context.Context) {
		reloads.Add(1)
		live.cur.Store(&Credentials{Email: testEmail, Password: "rotated-Secret-2"}) // the file says so by now
	})

	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.NoError(t, err)
	require.Equal(t, int64(1), reloads.Load())
	require.Equal(t, 2, b.platform.count("auth"), "refused with the old password, then issued with the new one")
	require.Equal(t, []Outcome{OutcomePermanent, OutcomeOK}, b.observer.outcomes("auth"))
}

// While the platform refuses the password, a token is asked for at most
// once per refusal pause with the same credentials, but at once with new
// ones; the refusal counts from the first one until a token is issued.
func TestRefusedClientIsAskedAgainAtOnceWithNewCredentials(t *testing.T) {
	t.Parallel()
	live := &liveCreds{}
	live.cur.Store(&Credentials{Email: testEmail, Password: "old-Secret-1"})
	b := setup(t, rotatedPlatform("rotated-Secret-2"), func(o *Options, _ *fakePlatform) {
		o.Credentials = live.lookup
		o.RefusalPause = time.Minute
	})
	var reloads atomic.Int64
	b.client.ReloadWith(func(context.Context) { reloads.Add(1) }) // the file has not changed yet
	first := b.clock.Now()

	for range 5 {
		_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
		require.ErrorIs(t, err, ErrCredentialsRefused)
		require.Equal(t, first, asError(t, err).RefusedSince)
		b.clock.Add(10 * time.Second)
	}
	require.Equal(t, 1, b.platform.count("auth"), "one token request within the pause")
	require.Equal(t, int64(1), reloads.Load(), "the configuration is read again only after a request was refused")

	live.cur.Store(&Credentials{Email: testEmail, Password: "typo-Secret-3"})
	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.ErrorIs(t, err, ErrCredentialsRefused)
	require.Equal(t, first, asError(t, err).RefusedSince, "still counted from the first refusal")
	require.Equal(t, 2, b.platform.count("auth"), "new credentials are tried at once")

	live.cur.Store(&Credentials{Email: testEmail, Password: "rotated-Secret-2"})
	_, err = b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.NoError(t, err)
	require.Equal(t, 3, b.platform.count("auth"))

	// A token was issued: a later refusal counts afresh.
	b.platform.revokeAll()
	b.clock.Add(time.Hour)
	live.cur.Store(&Credentials{Email: testEmail, Password: "old-Secret-1"})
	_, err = b.client.ListCampaigns(t.Context(), testClient, 2, 10)
	require.ErrorIs(t, err, ErrCredentialsRefused)
	require.Equal(t, b.clock.Now(), asError(t, err).RefusedSince)
}

// waitThen is a Limiter whose Wait runs f, then grants.
type waitThen func()

func (f waitThen) Wait(context.Context, string) error { f(); return nil }

func (waitThen) Block(context.Context, string, time.Duration) error {
	return errors.New("not expected")
}
