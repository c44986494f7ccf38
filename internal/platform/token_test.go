package platform

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adsync/adsync/internal/secret"
	"github.com/adsync/adsync/internal/testenv"
	"github.com/stretchr/testify/require"
)

func TestTokenIsCachedAndReused(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for page := 1; page <= 3; page++ {
		_, err := b.client.ListCampaigns(t.Context(), testClient, page, 10)
		require.NoError(t, err)
	}

	require.Equal(t, 1, b.platform.tokensIssued())
	require.Equal(t, int64(3), b.limiter.waits.Load(), "auth does not pass through the limiter")
	require.Equal(t, []Outcome{OutcomeOK}, b.observer.outcomes("auth"))
	require.Equal(t, []Outcome{OutcomeOK, OutcomeOK, OutcomeOK}, b.observer.outcomes("list"))
	require.Equal(t, 1, b.observer.refreshes())
}

func TestTokenIsRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *Options, fp *fakePlatform) { fp.tokenLife = 60 }) // time scale 60

	list := func() {
		t.Helper()
		_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
		require.NoError(t, err)
	}
	list()
	b.clock.Add(53 * time.Second) // default margin: 10% of 60 s = 6 s
	list()
	require.Equal(t, 1, b.platform.tokensIssued(), "still well within its life")

	b.clock.Add(2 * time.Second) // 55 s: inside the margin
	list()
	testenv.WaitFor(t, 5*time.Second, "the background refresh", func() bool {
		return b.observer.refreshes() == 2
	})
	require.Equal(t, 2, b.platform.tokensIssued())

	b.clock.Add(4 * time.Second) // 59 s: the first token is no longer used
	list()
	require.Equal(t, 2, b.platform.tokensIssued(), "the new token serves")
	require.Zero(t, b.platform.unauthorized(), "no request was sent with an expired token")
}

func TestSlowRefreshDoesNotStallRequests(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		fp.tokenLife = 60
		issue := fp.auth
		var fetches atomic.Int64
		fp.auth = func(w http.ResponseWriter, r *http.Request) {
			if fetches.Add(1) > 1 {
				<-release // the platform sits on the refresh
			}
			issue(w, r)
		}
	})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock)

	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.NoError(t, err)
	b.clock.Add(55 * time.Second)
	for range 3 {
		_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
		require.NoError(t, err, "the old token serves while the refresh hangs")
	}
	testenv.WaitFor(t, 5*time.Second, "the refresh to reach the platform", func() bool {
		return b.platform.count("auth") == 2
	})

	b.clock.Add(3 * time.Second) // 58 s: too close to expiry to send the old token
	done := make(chan error, 1)
	go func() {
		_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("request did not wait for the new token: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	unblock()
	require.NoError(t, <-done)
	require.Equal(t, 2, b.platform.count("auth"), "one refresh, shared by all")
}

func TestRefreshMargin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		refreshBefore time.Duration
		life, want    time.Duration
	}{
		{"real platform", 0, time.Hour, 6 * time.Minute},
		{"time scale 60", 0, time.Minute, 6 * time.Second},
		{"short life keeps one second", 0, 4 * time.Second, time.Second},
		{"never more than half the life", 0, time.Second, 500 * time.Millisecond},
		{"configured", 30 * time.Second, time.Hour, 30 * time.Second},
		{"configured but capped", 5 * time.Minute, time.Minute, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(o *Options, _ *fakePlatform) { o.RefreshBefore = tc.refreshBefore })
			require.Equal(t, tc.want, b.client.tokens.margin(tc.life))
		})
	}
}

func TestExpiredTokenIsRefreshedAndRetriedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.NoError(t, err)

	b.platform.revokeAll() // the platform now answers 401 "Token expired"
	page, err := b.client.ListCampaigns(t.Context(), testClient, 2, 10)
	require.NoError(t, err)
	require.Equal(t, 2, page.Pagination.Page)

	require.Equal(t, 2, b.platform.tokensIssued())
	require.Equal(t, 3, b.platform.count("list"))
	require.Equal(t, int64(3), b.limiter.waits.Load(), "the retry passed through the limiter again")
	require.Equal(t, []Outcome{OutcomeOK, OutcomeTransient, OutcomeOK}, b.observer.outcomes("list"))
}

func TestSecond401IsPermanent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		fp.list = func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusUnauthorized, `{"error":"Token expired","message":"..."}`)
		}
	})

	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	e := asError(t, err)
	require.Equal(t, KindPermanent, e.Kind)
	require.ErrorIs(t, err, ErrAuthRefused)
	require.Equal(t, "platform: list campaigns page 1: status 401 (Token expired): auth refused: permanent", err.Error())
	require.Equal(t, 2, b.platform.count("list"), "one retry, no loop")
	require.Equal(t, 2, b.platform.tokensIssued())
	require.Equal(t, int64(2), b.limiter.waits.Load())
}

// A refused password is a permanent failure of the call that names
// ErrCredentialsRefused (an ErrAuthRefused too) and never the password.
// The same password is not sent again within the refusal pause: a
// second call gets the remembered refusal without a request, which spares
// the account a platform's lockout after repeated failed logins.
func TestWrongPasswordIsRefusedOncePerPause(t *testing.T) {
	t.Parallel()
	const wrong = "not-the-password-42"
	b := setup(t, func(o *Options, _ *fakePlatform) {
		o.Credentials = func(string) (Credentials, bool) {
			return Credentials{Email: testEmail, Password: secret.Secret(wrong)}, true
		}
	})
	first := b.clock.Now()

	for range 2 {
		_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
		e := asError(t, err)
		require.Equal(t, KindPermanent, e.Kind)
		require.ErrorIs(t, err, ErrCredentialsRefused)
		require.ErrorIs(t, err, ErrAuthRefused)
		require.Equal(t, http.StatusUnauthorized, e.Status)
		require.Equal(t, first, e.RefusedSince)
		require.Equal(t, "platform: list campaigns page 1: fetch token: status 401 (Invalid credentials): auth refused: permanent", err.Error())
		require.NotContains(t, err.Error(), wrong)
		b.clock.Add(DefaultRefusalPause - time.Second)
	}
	require.Equal(t, 1, b.platform.count("auth"), "the second call was answered from the refusal")

	b.clock.Add(time.Second) // the pause since the last request is over
	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.ErrorIs(t, err, ErrCredentialsRefused)
	require.Equal(t, first, asError(t, err).RefusedSince, "counted from the first refusal")
	require.Equal(t, 2, b.platform.count("auth"))
	require.Zero(t, b.platform.count("list"))
	require.Zero(t, b.limiter.waits.Load(), "no rate budget spent without a token")
	require.Equal(t, []Outcome{OutcomePermanent, OutcomePermanent}, b.observer.outcomes("auth"))
	require.Zero(t, b.observer.refreshes())
}

func TestConcurrentFirstRequestsShareOneTokenFetch(t *testing.T) {
	t.Parallel()
	const n = 20
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	var resolved sync.WaitGroup
	resolved.Add(n)
	b := setup(t, func(o *Options, fp *fakePlatform) {
		issue := fp.auth
		fp.auth = func(w http.ResponseWriter, r *http.Request) {
			<-release // hold the fetch until every request waits on it
			issue(w, r)
		}
		creds := o.Credentials
		var lookups atomic.Int64
		o.Credentials = func(id string) (Credentials, bool) {
			if lookups.Add(1) <= n { // the first lookup of each call; a sent request looks again
				resolved.Done()
			}
			return creds(id)
		}
	})

	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
			errs <- err
		}()
	}
	t.Cleanup(unblock)
	resolved.Wait() // every call is past its credentials, at the token
	testenv.WaitFor(t, 5*time.Second, "the token fetch to arrive", func() bool {
		return b.platform.count("auth") == 1
	})
	unblock()
	for range n {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 1, b.platform.count("auth"))
	require.Equal(t, 1, b.observer.refreshes())
	require.Equal(t, n, b.platform.count("list"))
}

func TestCallerGivingUpDoesNotFailSharedFetch(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		issue := fp.auth
		fp.auth = func(w http.ResponseWriter, r *http.Request) {
			<-release
			issue(w, r)
		}
	})

	t.Cleanup(unblock)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := b.client.ListCampaigns(ctx, testClient, 1, 10)
		done <- err
	}()
	testenv.WaitFor(t, 5*time.Second, "the token fetch to arrive", func() bool {
		return b.platform.count("auth") == 1
	})
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, KindTransient, asError(t, err).Kind)

	unblock()
	_, err = b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.NoError(t, err)
	require.Equal(t, 1, b.platform.count("auth"), "the abandoned fetch still filled the cache")
}

func TestUnknownClientIsPermanent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.SyncCampaign(t.Context(), "nobody", "campaign_1")
	require.ErrorIs(t, err, ErrUnknownClient)
	require.Equal(t, KindPermanent, asError(t, err).Kind)
	require.Zero(t, b.platform.count("auth"))
}

func TestBadTokenAnswerIsPermanent(t *testing.T) {
	t.Parallel()
	const tok = "tok-secret-value-123"
	for _, tc := range []struct{ name, body, reason string }{
		{"not JSON", `{"access_token":"` + tok + `",`, "decode token: invalid JSON"},
		{"missing token", `{"token_type":"Bearer","expires_in":3600}`, "decode token: access_token: missing"},
		{"empty token", `{"access_token":"","expires_in":3600}`, "decode token: access_token: empty"},
		{"token not a string", `{"access_token":12345,"expires_in":3600}`, "decode token: access_token: expected string, got number"},
		{"expires_in as string", `{"access_token":"` + tok + `","expires_in":"3600"}`, "decode token: expires_in: expected number, got string"},
		{"expires_in zero", `{"access_token":"` + tok + `","expires_in":0}`, "decode token: expires_in: must be positive"},
		{"not bearer", `{"access_token":"` + tok + `","token_type":"MAC","expires_in":3600}`, "decode token: token_type: expected Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(_ *Options, fp *fakePlatform) {
				fp.auth = func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, tc.body) }
			})
			_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
			require.Equal(t, KindPermanent, asError(t, err).Kind)
			require.ErrorContains(t, err, tc.reason)
			require.NotContains(t, err.Error(), tok)
			require.Zero(t, b.limiter.waits.Load())
		})
	}
}
