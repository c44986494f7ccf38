package platform

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/adsync/adsync/internal/secret"
)

// maxTokenLife caps the life a token answer claims, so an absurd expires_in
// cannot overflow a time.Duration; the token is then just refreshed daily.
const maxTokenLife = 24 * time.Hour

// tokenCache holds one Bearer token per client id and replaces it before it
// expires. Concurrent requests of one client share a single fetch, and a
// token due for replacement keeps serving while its successor is fetched, so
// a slow /auth/token (the platform sometimes never answers) does not stall
// the client's requests. Credentials the platform refused are not sent again
// for Options.RefusalPause, unless they change: real platforms lock an
// account after repeated failed logins. Written by hand rather than with
// x/sync/singleflight because the fetch must outlive the caller that started
// it, callers may not wait for it at all, and the cache is written under the
// same lock that decides who fetches.
type tokenCache struct {
	c   *Client
	now func() time.Time // the clock that token lifetimes are measured on

	mu      sync.Mutex
	tokens  map[string]token   // by client id
	flights map[string]*flight // fetches in progress, by client id
	// refused holds, by client id, the platform's refusals of a client's
	// credentials since its last token was issued.
	refused map[string]refusal
}

// refusal is what the platform answered a client's token requests since
// it last issued one: it first refused them at since (whatever the
// credentials were then), and last refused creds at last, with err.
type refusal struct {
	creds Credentials
	since time.Time
	last  time.Time
	err   *Error
}

// token is a cached Bearer token. From refreshAt on it is being replaced;
// until useUntil it is still sent meanwhile. useUntil lies half the refresh
// margin before the expiry, leaving room for the request to arrive in time.
// creds are the credentials it was fetched with: once the client's
// credentials change, it is not used again.
type token struct {
	value     secret.Secret
	refreshAt time.Time
	useUntil  time.Time
	creds     Credentials
}

// flight is one token fetch in progress with creds; done closes when tok or
// err is set.
type flight struct {
	done  chan struct{}
	tok   token
	err   *Error
	creds Credentials
}

func newTokenCache(c *Client) *tokenCache {
	return &tokenCache{
		c:       c,
		now:     time.Now,
		tokens:  make(map[string]token),
		flights: make(map[string]*flight),
		refused: make(map[string]refusal),
	}
}

// get returns a usable token for clientID. A token due for refresh starts a
// fetch (unless one runs) and is returned while still usable; without a
// usable token the caller waits for the fetch. A token or fetch made with
// other credentials than creds (the password was rotated since) is
// dropped: the next request authenticates with the new ones.
func (tc *tokenCache) get(ctx context.Context, clientID string, creds Credentials) (secret.Secret, *Error) {
	tc.mu.Lock()
	now := tc.now()
	t, ok := tc.tokens[clientID]
	if ok && t.creds != creds {
		delete(tc.tokens, clientID)
		ok = false
	}
	if ok && now.Before(t.refreshAt) {
		tc.mu.Unlock()
		return t.value, nil
	}
	f := tc.fetchLocked(ctx, clientID, creds)
	tc.mu.Unlock()
	if ok && now.Before(t.useUntil) {
		return t.value, nil
	}
	tok, err := f.wait(ctx)
	return tok.value, err
}

// fetchLocked returns the fetch of clientID's token with creds in
// progress, starting one if none is. The fetch runs detached from ctx (but
// bounded by the auth endpoint's timeout), so a caller that gives up does
// not fail the others waiting on it. Credentials that the platform refused
// less than Options.RefusalPause ago are not sent again: the flight
// returned has already ended with that refusal. tc.mu is held.
func (tc *tokenCache) fetchLocked(ctx context.Context, clientID string, creds Credentials) *flight {
	if f, running := tc.flights[clientID]; running && f.creds == creds {
		return f
	}
	if r, ok := tc.refused[clientID]; ok && r.creds == creds && tc.now().Before(r.last.Add(tc.c.opts.RefusalPause)) {
		f := &flight{done: make(chan struct{}), creds: creds, err: r.err}
		close(f.done)
		return f
	}
	f := &flight{done: make(chan struct{}), creds: creds}
	tc.flights[clientID] = f
	go tc.run(context.WithoutCancel(ctx), clientID, creds, f)
	return f
}

// wait returns the flight's token once fetched, or a transient error when
// ctx ends first.
func (f *flight) wait(ctx context.Context) (token, *Error) {
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return token{}, &Error{Kind: KindTransient, Op: "fetch token", Err: ctx.Err()}
	}
}

// ensure makes clientID hold a token with creds that is not yet due for
// replacement, fetching one (or waiting for the fetch in progress) if it
// does not, and returns when that token will be due.
func (tc *tokenCache) ensure(ctx context.Context, clientID string, creds Credentials) (time.Time, *Error) {
	tc.mu.Lock()
	t, ok := tc.tokens[clientID]
	if ok && t.creds == creds && tc.now().Before(t.refreshAt) {
		tc.mu.Unlock()
		return t.refreshAt, nil
	}
	f := tc.fetchLocked(ctx, clientID, creds)
	tc.mu.Unlock()
	tok, err := f.wait(ctx)
	return tok.refreshAt, err
}

// run performs the fetch of flight f and publishes its result, unless a
// fetch with newer credentials has replaced f meanwhile: then f's token
// goes only to those already waiting for it. When the platform refuses
// creds, the configuration is read again at once (Client.ReloadWith): if
// the client's credentials changed meanwhile (the password was changed on
// the platform, then in the clients file moments later), the token is
// fetched with the new ones straight away. A refusal is remembered for
// the pause between attempts and for its start (Error.RefusedSince).
func (tc *tokenCache) run(ctx context.Context, clientID string, creds Credentials, f *flight) {
	tok, err := tc.fetch(ctx, clientID, creds)
	if err.refused() {
		if fresh, changed := tc.c.reread(ctx, clientID, creds); changed {
			creds = fresh
			tok, err = tc.fetch(ctx, clientID, creds)
		}
	}
	tok.creds = creds
	tc.mu.Lock()
	current := tc.flights[clientID] == f
	if err.refused() {
		r, ok := tc.refused[clientID]
		if !ok {
			r.since = tc.now()
		}
		err.RefusedSince = r.since
		if current {
			r.creds, r.last, r.err = creds, tc.now(), err
			tc.refused[clientID] = r
		}
	}
	if current {
		if err == nil {
			tc.tokens[clientID] = tok
			delete(tc.refused, clientID)
		}
		delete(tc.flights, clientID)
	}
	f.tok, f.err = tok, err
	tc.mu.Unlock()
	close(f.done)
}

// invalidate drops clientID's token after the platform refused it, unless
// another request has already replaced it: then the refusal was about the
// old token and the new one stays.
func (tc *tokenCache) invalidate(clientID string, refused secret.Secret) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if t, ok := tc.tokens[clientID]; ok && t.value == refused {
		delete(tc.tokens, clientID)
	}
}

// fetch asks POST /auth/token for a new token. Its life is counted from when
// the request was sent, on our own clock: never later than the platform's
// issue time, and immune to skew between the two clocks (issued_at is not
// used for that reason).
func (tc *tokenCache) fetch(ctx context.Context, clientID string, creds Credentials) (token, *Error) {
	c := tc.c
	sent := tc.now()
	basic := base64.StdEncoding.EncodeToString([]byte(creds.Email + ":" + creds.Password.Reveal()))
	var tok token
	start := time.Now()
	err := c.do(ctx, request{
		op:            "fetch token",
		endpoint:      "auth",
		clientID:      clientID,
		method:        http.MethodPost,
		url:           c.base.JoinPath("auth", "token").String(),
		authorization: secret.Secret("Basic " + basic),
		secrets:       []secret.Secret{creds.Password, secret.Secret(basic)},
	}, func(body []byte) error {
		value, life, err := decodeToken(body)
		margin := tc.margin(life)
		tok = token{
			value:     value,
			refreshAt: sent.Add(life - margin),
			useUntil:  sent.Add(life - margin/2),
		}
		return err
	})
	c.observe(ctx, clientID, "auth", err.outcome(), time.Since(start))
	if err != nil {
		if err.Status == http.StatusUnauthorized {
			err.Err = ErrCredentialsRefused
		}
		return token{}, err
	}
	c.opts.Logger.DebugContext(ctx, "platform token refreshed", "client_id", clientID,
		"refresh_in", tok.refreshAt.Sub(sent))
	if c.opts.Observer != nil {
		c.opts.Observer.TokenRefreshed(clientID)
	}
	return tok, nil
}

// margin is how long before expiry a token of the given life starts being
// replaced: Options.RefreshBefore, or a tenth of the life but at least a
// second; never more than half the life.
func (tc *tokenCache) margin(life time.Duration) time.Duration {
	m := tc.c.opts.RefreshBefore
	if m == 0 {
		m = max(life/10, time.Second)
	}
	return min(m, life/2)
}

// decodeToken reads {"access_token", "token_type", "expires_in"} and
// returns the token and its life. The token's value never appears in an
// error.
func decodeToken(body []byte) (secret.Secret, time.Duration, error) {
	value, secs, err := tokenFields(body)
	if err != nil {
		return "", 0, fmt.Errorf("decode token: %w", err)
	}
	life := maxTokenLife
	if secs < maxTokenLife.Seconds() {
		life = time.Duration(math.Round(secs * float64(time.Second)))
	}
	return secret.Secret(value), life, nil
}

// tokenFields checks the members of a token answer one by one.
func tokenFields(body []byte) (value string, expiresIn float64, err error) {
	f, err := decodeObject(body, "")
	if err != nil {
		return "", 0, err
	}
	if value, err = f.string("access_token"); err != nil {
		return "", 0, err
	}
	if value == "" {
		return "", 0, errors.New("access_token: empty")
	}
	if expiresIn, err = f.number("expires_in"); err != nil {
		return "", 0, err
	}
	if expiresIn <= 0 {
		return "", 0, errors.New("expires_in: must be positive")
	}
	typ, ok, err := f.optionalString("token_type")
	if err != nil {
		return "", 0, err
	}
	if ok && !strings.EqualFold(typ, "Bearer") {
		return "", 0, errors.New("token_type: expected Bearer")
	}
	return value, expiresIn, nil
}
