package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/adsync/adsync/internal/secret"
	"github.com/stretchr/testify/require"
)

func TestRateLimited(t *testing.T) {
	t.Parallel()
	date := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, header, body string
		want               time.Duration
	}{
		{"body only, as the reference platform sends it", "", `{"error":"Rate limit exceeded","message":"Too many requests","retry_after":60}`, 60 * time.Second},
		{"fractional body value", "", `{"error":"Rate limit exceeded","retry_after":1.5}`, 1500 * time.Millisecond},
		{"body value as string", "", `{"error":"Rate limit exceeded","retry_after":"2"}`, 2 * time.Second},
		{"header seconds preferred", "7", `{"error":"Rate limit exceeded","retry_after":60}`, 7 * time.Second},
		{"header HTTP date, against the answer's Date", date.Add(30 * time.Second).Format(http.TimeFormat), `{"retry_after":60}`, 30 * time.Second},
		{"unreadable header falls back to body", "soon", `{"retry_after":3}`, 3 * time.Second},
		{"nothing given", "", `{"error":"Rate limit exceeded"}`, DefaultRetryAfter},
		{"unreadable body value", "", `{"retry_after":"a while"}`, DefaultRetryAfter},
		{"not JSON at all", "", `Too Many Requests`, DefaultRetryAfter},
		{"absurd value is capped", "", `{"retry_after":1e300}`, maxRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(_ *Options, fp *fakePlatform) {
				fp.list = func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Date", date.Format(http.TimeFormat))
					if tc.header != "" {
						w.Header().Set("Retry-After", tc.header)
					}
					writeJSON(w, http.StatusTooManyRequests, tc.body)
				}
			})

			_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
			e := asError(t, err)
			require.Equal(t, KindRateLimited, e.Kind)
			require.Equal(t, KindRateLimited, asError(t, err).Kind)
			require.Equal(t, tc.want, e.RetryAfter)
			require.Equal(t, []blockCall{{testClient, tc.want}}, b.limiter.blockCalls())
			require.Equal(t, 1, b.platform.count("list"), "no retry inside the client")
			require.Equal(t, []Outcome{OutcomeRateLimited}, b.observer.outcomes("list"))
		})
	}
}

func TestRateLimitedMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		fp.sync = func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusTooManyRequests, `{"error":"Rate limit exceeded","retry_after":60}`)
		}
	})
	_, err := b.client.SyncCampaign(t.Context(), testClient, "campaign_9")
	require.EqualError(t, err, "platform: sync campaign campaign_9: status 429 (Rate limit exceeded): retry after 1m0s: rate_limited")
}

func TestServerErrorIsTransient(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		fp.list = func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, `{"error":"Service temporarily unavailable","message":"Please retry"}`)
		}
	})

	_, err := b.client.ListCampaigns(t.Context(), testClient, 3, 10)
	require.EqualError(t, err, "platform: list campaigns page 3: status 503 (Service temporarily unavailable): transient")
	require.Equal(t, KindTransient, asError(t, err).Kind)
	require.Equal(t, 1, b.platform.count("list"), "retries belong to the task layer")
	require.Equal(t, []Outcome{OutcomeTransient}, b.observer.outcomes("list"))
	require.Empty(t, b.limiter.blockCalls())
}

func TestOtherClientErrorIsPermanent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		fp.list = func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusBadRequest, `{"error":"Invalid page"}`)
		}
	})
	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.EqualError(t, err, "platform: list campaigns page 1: status 400 (Invalid page): permanent")
}

func TestNoAnswerIsTransientWithinTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name  string
		serve http.HandlerFunc
	}{
		{"nothing sent", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{"body stalls after the headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"data":[`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *Options, fp *fakePlatform) {
				o.Timeout = timeout
				fp.list = tc.serve
			})

			start := time.Now()
			_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
			require.Less(t, time.Since(start), 10*timeout)
			require.Equal(t, KindTransient, asError(t, err).Kind)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "no answer within 200ms")
			require.Equal(t, []Outcome{OutcomeTransient}, b.observer.outcomes("list"))
		})
	}
}

func TestCallerCancelIsTransient(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		fp.list = func(_ http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		}
	})
	_, err := b.client.ListCampaigns(ctx, testClient, 1, 10)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, KindTransient, asError(t, err).Kind)
	require.NotContains(t, err.Error(), "no answer within", "the caller gave up, not the platform")
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.server.Close()
	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	require.Equal(t, KindTransient, asError(t, err).Kind)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// TestHugeBodyIsPermanentAndNotRead runs alone (no t.Parallel) so that its
// allocation count is its own.
func TestHugeBodyIsPermanentAndNotRead(t *testing.T) {
	const size, limit = 50 << 20, 1 << 20
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("length declared %t", declared), func(t *testing.T) {
			var written atomic.Int64
			done := make(chan struct{})
			b := setup(t, func(o *Options, fp *fakePlatform) {
				o.MaxBodyBytes = limit
				fp.list = func(w http.ResponseWriter, _ *http.Request) {
					defer close(done)
					w.Header().Set("Content-Type", "application/json")
					if declared {
						w.Header().Set("Content-Length", fmt.Sprint(size))
					}
					chunk := []byte(strings.Repeat(" ", 32<<10))
					for written.Load() < size {
						n, err := w.Write(chunk)
						written.Add(int64(n))
						if err != nil {
							return
						}
					}
				}
			})

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
			runtime.ReadMemStats(&after)

			require.Equal(t, KindPermanent, asError(t, err).Kind)
			require.ErrorContains(t, err, "response body larger than 1048576 bytes")
			<-done
			require.Less(t, written.Load(), int64(size), "the client stopped reading")
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16*limit), "memory stays bounded")
		})
	}
}

func TestErrorsNeverCarryBodiesOrSecrets(t *testing.T) {
	t.Parallel()
	var token atomic.Value
	b := setup(t, func(_ *Options, fp *fakePlatform) {
		fp.list = func(w http.ResponseWriter, r *http.Request) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			token.Store(tok)
			writeJSON(w, http.StatusInternalServerError, fmt.Sprintf(
				`{"error":"Internal error for %s and %s\n    at Object.<anonymous> (/app/server.js:42:13)\n    at Layer.handle",`+
					`"message":"token %s password %s","stack":"Error: boom\n    at /app/server.js:42:13"}`,
				tok, testPassword, tok, testPassword))
		}
	})

	_, err := b.client.ListCampaigns(t.Context(), testClient, 1, 10)
	e := asError(t, err)
	require.Equal(t, KindTransient, e.Kind)
	require.Equal(t, "Internal error for [REDACTED] and [REDACTED]", e.Code)
	msg := err.Error()
	for _, leak := range []string{token.Load().(string), testPassword, "server.js", "Object.<anonymous>", "boom", "message"} {
		require.NotContains(t, msg, leak)
	}
}

type noBudgetError struct{ wait time.Duration }

func (e *noBudgetError) Error() string { return fmt.Sprintf("no budget for %s", e.wait) }

func TestLimiterErrorPassesThrough(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.limiter.waitErr = &noBudgetError{wait: 3 * time.Second}

	_, err := b.client.SyncCampaign(t.Context(), testClient, "campaign_1")
	var nb *noBudgetError
	require.ErrorAs(t, err, &nb)
	require.Equal(t, 3*time.Second, nb.wait)
	require.Zero(t, b.platform.count("sync"), "nothing is sent without budget")
	require.Empty(t, b.observer.outcomes("sync"))
}

// An exchange that broke off without an answer is transient when the
// cause is one a later try may not meet; what nobody recognises is
// permanent, and not retried in place.
func TestIsTransient(t *testing.T) {
	t.Parallel()
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"cancelled", context.Canceled, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"EOF", &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, true},
		{"connection refused", opErr, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"DNS", &net.DNSError{Err: "no such host", Name: "x"}, true},
		{"timeout", &url.Error{Op: "Get", URL: "http://x", Err: timeoutError{}}, true},
		{"anything else", errors.New("unsupported protocol scheme"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, isTransient(tc.err))
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string { return "i/o timeout" }
func (timeoutError) Timeout() bool { return true }

func TestKindString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "transient", KindTransient.String())
	require.Equal(t, "permanent", KindPermanent.String())
	require.Equal(t, "rate_limited", KindRateLimited.String())
	require.Equal(t, "Kind(9)", Kind(9).String())
	require.Equal(t, OutcomeRateLimited, Outcome(KindRateLimited.String()))
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Boom", sanitize("  Boom\n  at main.go:1\n"))
	require.Equal(t, "ab", sanitize("a\x00\x1b\u200bb"))
	require.Equal(t, "key [REDACTED]", sanitize("key hunter2", secret.Secret("hunter2"), ""))
	long := sanitize(strings.Repeat("é", 500))
	require.Equal(t, strings.Repeat("é", maxCodeLen)+"…", long)
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	_, err := New(Options{BaseURL: "ftp://x", Timeout: -1})
	require.EqualError(t, err, "platform: options: want an http(s) BaseURL with a host\n"+
		"missing Credentials\nmissing Limiter\nnegative Timeout, MaxBodyBytes, RefreshBefore, RefusalPause or InPlaceRetries")

	c, err := New(Options{
		BaseURL:     "http://127.0.0.1:3001",
		Credentials: func(string) (Credentials, bool) { return Credentials{}, false },
		Limiter:     &countingLimiter{},
	})
	require.NoError(t, err)
	require.Equal(t, DefaultTimeout, c.opts.Timeout)
	require.Equal(t, DefaultMaxBodyBytes, c.opts.MaxBodyBytes)
	require.Equal(t, 128, c.opts.HTTPClient.Transport.(*http.Transport).MaxIdleConnsPerHost)
}
