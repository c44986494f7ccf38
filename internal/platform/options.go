package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/adsync/adsync/internal/secret"
)

// Defaults of Options, applied where a field is left zero.
const (
	// DefaultTimeout matches PLATFORM_TIMEOUT's default.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBodyBytes is far above a page of campaigns and far below
	// anything that could hurt a worker's memory.
	DefaultMaxBodyBytes int64 = 10 << 20
	// DefaultRefusalPause is a few seconds: a client whose password was
	// changed on the platform gets its new one within moments of the
	// clients file changing, and a wrong password costs the account at
	// most a dozen failed logins a minute per worker.
	DefaultRefusalPause = 5 * time.Second
)

// Credentials are one client account's login for POST /auth/token.
type Credentials struct {
	// Email is the account's login name.
	Email string
	// Password never prints: see package secret.
	Password secret.Secret
}

// Limiter is the shared per-client rate budget. Every request the platform
// counts (GET /api/campaigns, POST /api/campaigns/{id}/sync, including every
// retry inside this client) passes through Wait first; /auth/token is not
// counted and does not.
type Limiter interface {
	// Wait returns when clientID may send one request, or an error (for
	// example "no budget left") that the client returns wrapped with %w, so
	// errors.As still finds it.
	Wait(ctx context.Context, clientID string) error
	// Block holds off every request of clientID for d; the client calls it
	// on a 429 with the platform's requested wait.
	Block(ctx context.Context, clientID string, d time.Duration) error
}

// Observer receives one call per finished platform request, per token
// refresh and per hedge, for metrics. Calls come from many goroutines at once.
type Observer interface {
	// Request reports one HTTP attempt: endpoint is "auth", "list" or
	// "sync"; d runs from sending to the end of the body.
	Request(clientID, endpoint string, outcome Outcome, d time.Duration)
	// TokenRefreshed reports one successful token fetch.
	TokenRefreshed(clientID string)
	// Hedged reports a second copy of a slow request sent (see Hedger).
	Hedged(clientID, endpoint string)
}

// Options configure a Client. Zero values take the documented defaults;
// BaseURL, Credentials and Limiter are required.
type Options struct {
	// BaseURL is the platform's root, e.g. http://127.0.0.1:3001 (PLATFORM_URL).
	BaseURL string
	// Timeout bounds one request, body included (PLATFORM_TIMEOUT), so a
	// platform that never answers cannot hang a worker; once LearnTimeouts
	// runs it is the ceiling of each endpoint's learned timeout. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes caps a response body; a larger one is a permanent error
	// and is not read further. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Credentials resolves a client id to its credentials; tasks carry only
	// client ids, never secrets. A false result makes the call fail
	// permanently with ErrUnknownClient.
	Credentials func(clientID string) (Credentials, bool)
	// Limiter is the shared rate budget every counted request waits on.
	Limiter Limiter
	// Observer, if set, is told about every request and token refresh.
	Observer Observer
	// RefreshBefore is how long before its expiry a token starts being
	// replaced: the new one is fetched in the background while the old one
	// keeps serving until half this margin is left; only then do requests
	// wait for the fetch. Zero means a tenth of the token's life, at least
	// one second. Either way the margin is capped at half the token's life.
	// (A 60 s token at time scale 60 is replaced from 54 s on; a 3600 s
	// token from 54 min on.)
	RefreshBefore time.Duration
	// RefusalPause is the least time between two token requests of a
	// client with the same credentials after the platform refused them
	// (401): real platforms lock an account after repeated failed logins.
	// Meanwhile a request for a token is answered with that refusal
	// without asking the platform; credentials that change are sent at
	// once. (POST /auth/token is not rate limited, so this spends no rate
	// budget either way.) Zero means DefaultRefusalPause.
	RefusalPause time.Duration
	// InPlaceRetries is how many times a request that failed transiently
	// (a 503, no answer within Timeout, a dropped connection) is retried
	// within the same call, retry n after InPlaceDelay(n); zero leaves
	// every retry to the caller. A retry through a task queue comes back
	// only after the queue's own delays (asynq schedules to the whole
	// second, and its poller ticks), and at the rate limit's pace those
	// cost the client slots it could have used meanwhile. The worker takes
	// both from its task policy (pipeline.Policy), so that the in-place
	// retries and the task's own retries follow one curve.
	InPlaceRetries int
	// InPlaceDelay is the wait before in-place retry n (0 for the first);
	// required when InPlaceRetries is not zero.
	InPlaceDelay func(n int) time.Duration
	// HTTPClient sends the requests; nil means one with a Transport sized
	// for ~100 concurrent requests to the one platform host. Its own Timeout
	// may stay zero: Timeout above is applied per request by context.
	HTTPClient *http.Client
	// Logger receives debug lines about requests and token refreshes; nil
	// discards them.
	Logger *slog.Logger
}

// validate checks the required fields and fills in defaults, returning the
// parsed base URL.
func (o *Options) validate() (*url.URL, error) {
	var errs []error
	base, err := url.Parse(o.BaseURL)
	switch {
	case o.BaseURL == "":
		errs = append(errs, errors.New("missing BaseURL"))
	case err != nil:
		errs = append(errs, fmt.Errorf("BaseURL: %w", err))
	case (base.Scheme != "http" && base.Scheme != "https") || base.Host == "":
		errs = append(errs, errors.New("want an http(s) BaseURL with a host"))
	}
	if o.Credentials == nil {
		errs = append(errs, errors.New("missing Credentials"))
	}
	if o.Limiter == nil {
		errs = append(errs, errors.New("missing Limiter"))
	}
	if o.Timeout < 0 || o.MaxBodyBytes < 0 || o.RefreshBefore < 0 || o.RefusalPause < 0 || o.InPlaceRetries < 0 {
		errs = append(errs, errors.New("negative Timeout, MaxBodyBytes, RefreshBefore, RefusalPause or InPlaceRetries"))
	}
	if o.InPlaceRetries > 0 && o.InPlaceDelay == nil {
		errs = append(errs, errors.New("InPlaceRetries without InPlaceDelay"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("platform: options: %w", err)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.RefusalPause == 0 {
		o.RefusalPause = DefaultRefusalPause
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return base, nil
}

// defaultHTTPClient keeps enough idle connections to the one platform host
// that ~100 concurrent requests reuse connections instead of dialling anew
// (net/http keeps only 2 per host by default).
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}
