package mock

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/secret"
)

func TestTokenIsIssuedForGoodCredentials(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := setup(t, quietConfig(), clock)

	a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic(refEmail, refPassword)})
	checkAnswer(t, a)
	require.Equal(t, http.StatusOK, a.status)
	var raw map[string]any
	a.decode(t, &raw)
	require.ElementsMatch(t, []string{"access_token", "token_type", "expires_in", "issued_at"}, keys(raw))
	var tok tokenAnswer
	a.decode(t, &tok)
	require.NotEmpty(t, tok.AccessToken)
	require.Equal(t, "Bearer", tok.TokenType)
	require.EqualValues(t, 3600, tok.ExpiresIn)
	require.Equal(t, clock.now().Unix(), tok.IssuedAt)

	require.Equal(t, http.StatusOK, b.list(t, "", tok.AccessToken, "").status)
}

func TestEveryConfiguredAccountLogsIn(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.Accounts = []Account{{"one@x.io", secret.Secret("pw:1")}, {"two@x.io", secret.Secret("pw2")}}
	b := setup(t, cfg, nil)
	for _, acc := range cfg.Accounts {
		a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic(acc.Email, acc.Password.Reveal())})
		require.Equal(t, http.StatusOK, a.status, acc.Email)
	}
	a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic("one@x.io", "pw2")})
	require.Equal(t, http.StatusUnauthorized, a.status, "passwords are per account")
}

func TestTokenRequestsWithBadCredentialsAnswer401(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	cases := map[string]struct{ header, message string }{
		"missing header":   {"", "Missing Authorization header"},
		"bearer scheme":    {"Bearer abc", "must be Basic"},
		"no credentials":   {"Basic", "email:password"},
		"bad base64":       {"Basic %%%not-base64", "not valid base64"},
		"no colon":         {"Basic " + base64.StdEncoding.EncodeToString([]byte("admin")), "email:password"},
		"wrong password":   {basic(refEmail, "nope"), "wrong"},
		"unknown email":    {basic("who@x.io", refPassword), "wrong"},
		"empty both":       {basic("", ""), "wrong"},
		"password prefix":  {basic(refEmail, refPassword[:5]), "wrong"},
		"case of email":    {basic(strings.ToUpper(refEmail), refPassword), "wrong"},
		"lowercase scheme": {"basic " + base64.StdEncoding.EncodeToString([]byte("x:y")), "wrong"},
	}
	for name, c := range cases {
		a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": c.header, "X-Client-ID": "auth-test"})
		checkAnswer(t, a)
		require.Equal(t, http.StatusUnauthorized, a.status, name)
		require.Contains(t, a.apiErr(t).Message, c.message, name)
	}
	st := b.srv.Stats().Clients["auth-test"]
	require.EqualValues(t, len(cases), st.Requests[EndpointAuth]["401"])
	require.Zero(t, st.Counted, "token requests are not rate limited")

	a := b.do(t, http.MethodGet, "/auth/token", nil)
	checkAnswer(t, a)
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
	require.Equal(t, http.MethodPost, a.header.Get("Allow"))
}

func TestAPIRequiresAValidBearerToken(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	good := b.token(t, "")
	other := setup(t, quietConfig(), nil).token(t, "")
	tampered := []byte(good)
	tampered[3] ^= 1

	cases := map[string]struct{ header, error string }{
		"missing":            {"", "Unauthorized"},
		"basic scheme":       {basic(refEmail, refPassword), "Unauthorized"},
		"empty bearer":       {"Bearer ", "Invalid token"},
		"garbage":            {"Bearer not-a-token", "Invalid token"},
		"tampered":           {"Bearer " + string(tampered), "Invalid token"},
		"truncated":          {"Bearer " + good[:len(good)-2], "Invalid token"},
		"other server":       {"Bearer " + other, "Invalid token"},
		"non-base64 bytes":   {"Bearer \u00e9\u00e9\u00e9", "Invalid token"},
		"very long":          {"Bearer " + strings.Repeat("A", 10000), "Invalid token"},
		"scheme without gap": {"Bearer" + good, "Unauthorized"},
	}
	for name, c := range cases {
		for _, target := range []string{"/api/campaigns", "/api/campaigns/campaign_1/sync"} {
			method := http.MethodGet
			if strings.HasSuffix(target, "/sync") {
				method = http.MethodPost
			}
			a := b.do(t, method, target, headers{"Authorization": c.header})
			checkAnswer(t, a)
			require.Equal(t, http.StatusUnauthorized, a.status, "%s %s", name, target)
			require.Equal(t, c.error, a.apiErr(t).Error, "%s %s", name, target)
		}
	}
	require.Equal(t, http.StatusOK, b.list(t, "", good, "").status)
}

func TestTokensWorkWithAnyClientID(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	tok := b.token(t, "issuer")
	for _, id := range []string{"", "issuer", "someone-else", "ünïcode client"} {
		require.Equal(t, http.StatusOK, b.list(t, id, tok, "").status, id)
	}
}

func TestTokenExpiresAfterItsScaledLife(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cfg := quietConfig()
	cfg.TimeScale = 60 // token life 3600 s / 60 = 60 s
	b := setup(t, cfg, clock)

	issued := clock.now()
	a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic(refEmail, refPassword)})
	var tok tokenAnswer
	a.decode(t, &tok)
	require.EqualValues(t, 60, tok.ExpiresIn)

	clock.advance(time.Minute - time.Nanosecond)
	require.Equal(t, http.StatusOK, b.list(t, "", tok.AccessToken, "").status)

	clock.advance(time.Nanosecond)
	for _, target := range []string{"/api/campaigns", "/api/campaigns/campaign_1/sync"} {
		method := http.MethodGet
		if strings.HasSuffix(target, "/sync") {
			method = http.MethodPost
		}
		a = b.api(t, method, target, "", tok.AccessToken)
		require.Equal(t, http.StatusUnauthorized, a.status)
		var expired expiredAnswer
		a.decode(t, &expired)
		require.Equal(t, "Token expired", expired.Error)
		require.NotEmpty(t, expired.Message)
		at, err := time.Parse(time.RFC3339, expired.ExpiredAt)
		require.NoError(t, err)
		require.True(t, at.Equal(issued.Add(time.Minute)), "expired_at %s", expired.ExpiredAt)
	}

	// A fresh token works again.
	require.Equal(t, http.StatusOK, b.list(t, "", b.token(t, ""), "").status)
}

func TestTokenExpiresInRealTimeUnderALargeScale(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.TimeScale = 3600 // token life 1 s
	b := setup(t, cfg, nil)

	before := time.Now()
	a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic(refEmail, refPassword)})
	var tok tokenAnswer
	a.decode(t, &tok)
	require.EqualValues(t, 1, tok.ExpiresIn)
	require.Equal(t, http.StatusOK, b.list(t, "", tok.AccessToken, "").status)

	var last answer
	waitFor(t, "the token to expire", func() bool {
		last = b.list(t, "", tok.AccessToken, "")
		return last.status == http.StatusUnauthorized
	})
	require.GreaterOrEqual(t, time.Since(before), time.Second)
	require.Equal(t, "Token expired", last.apiErr(t).Error)
}

func TestExpiresInIsAtLeastOneSecond(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.TimeScale = 1e6
	b := setup(t, cfg, newFakeClock())
	a := b.do(t, http.MethodPost, "/auth/token", headers{"Authorization": basic(refEmail, refPassword)})
	var tok tokenAnswer
	a.decode(t, &tok)
	require.EqualValues(t, 1, tok.ExpiresIn)
}

// keys lists the keys of a JSON object.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
