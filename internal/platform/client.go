package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/adsync/adsync/internal/secret"
)

// Client is the one HTTP client for the ad platform: it authenticates each
// client account, spends the shared rate budget, bounds every request in time
// and size, and classifies every outcome. It is safe for concurrent use.
type Client struct {
	opts   Options
	base   *url.URL
	tokens *tokenCache
	// timeouts, once LearnTimeouts has run, gives each endpoint its timeout.
	timeouts atomic.Pointer[Timeouts]
	// reload, once ReloadWith has set it, re-reads the credentials'
	// configuration.
	reload atomic.Pointer[func(context.Context)]
}

// ReloadWith makes the client call reload whenever the platform refuses a
// client's credentials (a 401 from POST /auth/token), before it reports
// the refusal: reload re-reads the configuration that
// Options.Credentials looks in (the live client list's Reload). A
// password changed on the platform and then in the clients file is thus
// used as soon as the file says so, even before the file's watch notices;
// if the client's credentials changed, the token is requested again with
// them at once. Without it, a refusal waits for the configuration to
// change by itself.
func (c *Client) ReloadWith(reload func(context.Context)) {
	c.reload.Store(&reload)
}

// reread calls the ReloadWith function, if any, after the platform
// refused creds of clientID, and returns the client's credentials if they
// are now others.
func (c *Client) reread(ctx context.Context, clientID string, creds Credentials) (Credentials, bool) {
	reload := c.reload.Load()
	if reload == nil {
		return Credentials{}, false
	}
	(*reload)(ctx)
	fresh, ok := c.opts.Credentials(clientID)
	return fresh, ok && fresh != creds
}

// New checks opts, fills in defaults and returns a ready Client.
func New(opts Options) (*Client, error) {
	base, err := opts.validate()
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts, base: base}
	c.tokens = newTokenCache(c)
	return c, nil
}

// request is one HTTP exchange with the platform.
type request struct {
	op            string // names the call in errors, e.g. "sync campaign c1"
	endpoint      string // "auth", "list" or "sync", for the Observer
	clientID      string
	method        string
	url           string
	body          []byte // nil: no body
	authorization secret.Secret
	secrets       []secret.Secret // masked out of the platform's error code
}

// call performs one counted API request for r.clientID with a Bearer token:
// it spends rate budget before every attempt, and on a 401 replaces the token
// and tries exactly once more (spending budget again, because the platform
// counts the retry). A transient failure (a 503, no answer, a dropped
// connection) is retried in place, up to Options.InPlaceRetries times
// after Options.InPlaceDelay, while the budget lets each retry go within
// the limiter's in-place wait; then the failure is returned for the
// caller's own, slower retry. A 429 makes every
// worker of the client hold off through Limiter.Block and is returned, not
// retried. decode turns a 2xx body into the caller's result.
func (c *Client) call(ctx context.Context, r request, decode func([]byte) error) error {
	var refreshed bool
	// transient is the failure an in-place retry follows, if one does, and
	// retries how many in-place retries have been made.
	var transient *Error
	retries := 0
	for {
		// Credentials are looked up for every attempt: the client list can
		// change while the process runs (package clients).
		creds, ok := c.opts.Credentials(r.clientID)
		if !ok {
			return &Error{Kind: KindPermanent, Op: r.op, Err: ErrUnknownClient}
		}
		// The token comes before Wait: a refresh is not counted, and doing it
		// after Wait would widen the gap between the limiter's stamp and the
		// request's arrival that a sliding-window limiter must allow for.
		tok, terr := c.tokens.get(ctx, r.clientID, creds)
		if terr != nil {
			return terr.in(r.op)
		}
		if err := c.opts.Limiter.Wait(ctx, r.clientID); err != nil {
			if transient != nil && ctx.Err() == nil {
				// No budget soon enough for the retry: the failure goes
				// back to the caller, counted as one, so that a platform
				// that keeps failing still ends in a dead letter, and says
				// when the slot the limiter booked for its retry comes.
				return transient.retryIn(err)
			}
			return fmt.Errorf("platform: %s: wait for rate budget: %w", r.op, err)
		}
		if _, ok := c.opts.Credentials(r.clientID); !ok {
			// Removed from the configuration while it waited: not sent.
			return &Error{Kind: KindPermanent, Op: r.op, Err: ErrUnknownClient}
		}
		r.authorization = "Bearer " + tok
		r.secrets = []secret.Secret{tok, creds.Password}
		start := time.Now()
		err := c.hedged(ctx, r, decode)
		expired := !refreshed && err != nil && err.Status == http.StatusUnauthorized
		outcome := err.outcome()
		if expired {
			// Recovered below: token expiry is routine, not a permanent failure.
			outcome = OutcomeTransient
		}
		c.observe(ctx, r.clientID, r.endpoint, outcome, time.Since(start))
		switch {
		case expired:
			refreshed = true
			c.tokens.invalidate(r.clientID, tok)
			continue
		case err == nil:
			return nil
		case err.Kind == KindRateLimited:
			c.block(ctx, r.clientID, err.RetryAfter)
		case err.Kind == KindTransient && c.retryInPlace(ctx, retries):
			transient = err
			retries++
			continue
		}
		return err
	}
}

// do sends one request and classifies what comes back; the whole exchange,
// body included, is bounded by the endpoint's timeout (Options.Timeout, or
// the one learned, see Timeouts) and Options.MaxBodyBytes. A request sent
// before its endpoint's timeout was learned takes the learned one as soon
// as there is one (Timeouts.follow). A success and a request cut by its
// timeout are recorded for the learned timeouts. The result is nil on
// success.
func (c *Client) do(parent context.Context, r request, decode func([]byte) error) *Error {
	learned := c.timeouts.Load()
	l := c.Latency(r.endpoint)
	ctx, d, stop := startDeadline(parent, l.Timeout)
	defer stop()
	if learned != nil && l.Usual == 0 {
		go learned.follow(ctx, r.endpoint, d)
	}
	e := c.exchange(parent, ctx, r, decode)
	if learned != nil {
		if e == nil {
			learned.record(r.endpoint, time.Since(d.start), false)
		} else if cut, ok := cutBy(parent, ctx); ok {
			learned.record(r.endpoint, cut.after, true)
		}
	}
	return e
}

// exchange sends r under ctx, which carries do's deadline, and classifies
// the answer.
func (c *Client) exchange(parent, ctx context.Context, r request, decode func([]byte) error) *Error {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return &Error{Kind: KindPermanent, Op: r.op, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Client-ID", r.clientID)
	req.Header.Set("Authorization", r.authorization.Reveal())
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return failed(parent, ctx, r.op, 0, err)
	}
	defer resp.Body.Close()

	data, readErr := readBody(resp, c.opts.MaxBodyBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The status decides; a body that could not be read only lacks
		// the error code.
		return classifyStatus(r.op, resp, data, r.secrets...)
	}
	var tooLarge *bodyTooLargeError
	switch {
	case errors.As(readErr, &tooLarge):
		return &Error{Kind: KindPermanent, Op: r.op, Status: resp.StatusCode, Err: readErr}
	case readErr != nil:
		return failed(parent, ctx, r.op, resp.StatusCode, fmt.Errorf("read body: %w", readErr))
	}
	if err := checkContentType(resp.Header); err != nil {
		return &Error{Kind: KindPermanent, Op: r.op, Status: resp.StatusCode, Err: err}
	}
	if err := decode(data); err != nil {
		return decodeFailure(r.op, resp.StatusCode, err, r.secrets...)
	}
	return nil
}

// failed classifies an exchange that broke off without a readable answer.
// Our own deadline is named as such, so "no answer within 10s" is told
// apart from the caller giving up.
func failed(parent, ctx context.Context, op string, status int, err error) *Error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err // the URL adds length, not information
	}
	if cut, ok := cutBy(parent, ctx); ok {
		err = cut
	}
	kind := KindPermanent
	if isTransient(err) {
		kind = KindTransient
	}
	return &Error{Kind: kind, Op: op, Status: status, Err: err}
}

// decodeFailure classifies a 2xx answer whose body is not what the contract
// promises: permanent, unless the decoder returned an *Error with its own
// kind and code (a sync answer with success=false), which is completed here.
func decodeFailure(op string, status int, err error, secrets ...secret.Secret) *Error {
	var e *Error
	if errors.As(err, &e) {
		e.Op, e.Status, e.Code = op, status, sanitize(e.Code, secrets...)
		return e
	}
	return &Error{Kind: KindPermanent, Op: op, Status: status, Err: err}
}

// bodyTooLargeError reports a body over Options.MaxBodyBytes.
type bodyTooLargeError struct{ limit int64 }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("response body larger than %d bytes", e.limit)
}

// readBody reads at most limit bytes of the body. A longer body (declared or
// actual) is not read further; closing it then drops the connection, which
// is cheaper than draining megabytes. A body within the limit is read to its
// end, so the connection can be reused.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, &bodyTooLargeError{limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &bodyTooLargeError{limit: limit}
	}
	return data, nil
}

// observe reports one finished request to the log and the Observer.
func (c *Client) observe(ctx context.Context, clientID, endpoint string, outcome Outcome, d time.Duration) {
	c.opts.Logger.DebugContext(ctx, "platform request", "client_id", clientID, "endpoint", endpoint,
		"outcome", string(outcome), "duration", d)
	if c.opts.Observer != nil {
		c.opts.Observer.Request(clientID, endpoint, outcome, d)
	}
}

// block shares a 429's wait with every worker of the client. If the Limiter
// cannot record it, the 429 is still returned to the caller, whose retry
// will meet the platform's refusal again; the failure is logged.
func (c *Client) block(ctx context.Context, clientID string, d time.Duration) {
	c.opts.Logger.DebugContext(ctx, "platform rate limited", "client_id", clientID, "retry_after", d)
	if err := c.opts.Limiter.Block(ctx, clientID, d); err != nil {
		c.opts.Logger.WarnContext(ctx, "platform: cannot share rate-limit pause", "client_id", clientID,
			"retry_after", d, "error", err)
	}
}
