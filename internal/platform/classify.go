package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/adsync/adsync/internal/secret"
)

// DefaultRetryAfter is the wait assumed for a 429 that names none (or one
// that cannot be read): the platform's whole window, the conservative choice.
const DefaultRetryAfter = 60 * time.Second

// maxRetryAfter caps the platform's requested wait, so an absurd value cannot
// overflow a time.Duration or park a client for years.
const maxRetryAfter = 24 * time.Hour

// maxCodeLen is how many runes of the platform's "error" field an Error keeps.
const maxCodeLen = 100

// classifyStatus turns a non-2xx answer into an *Error. body is the bounded
// error body (possibly nil); only its "error" and "retry_after" members are
// read, the rest (messages, stack traces) is dropped. secrets are masked out
// of the error code in case the platform echoes them.
func classifyStatus(op string, resp *http.Response, body []byte, secrets ...secret.Secret) *Error {
	e := &Error{Op: op, Status: resp.StatusCode}
	errBody := decodeErrorBody(body)
	e.Code = sanitize(errBody.code, secrets...)
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.RetryAfter = retryAfter(resp.Header, errBody.retryAfter)
	case s == http.StatusUnauthorized:
		e.Kind = KindPermanent
		e.Err = ErrAuthRefused
	case s >= 500, s == http.StatusRequestTimeout:
		// 408 is the server giving up on a slow request: a timeout like ours.
		e.Kind = KindTransient
	default:
		e.Kind = KindPermanent
	}
	return e
}

// errorBody is what an error answer may tell besides its status.
type errorBody struct {
	code       string
	retryAfter json.RawMessage
}

// decodeErrorBody reads {"error": "...", "retry_after": N} leniently: an
// error answer that is not such an object (an HTML proxy page) still has a
// status, which is what classifies it.
func decodeErrorBody(body []byte) errorBody {
	f, err := decodeObject(body, "")
	if err != nil {
		return errorBody{}
	}
	code, _, _ := f.optionalString("error")
	ra, _ := f.raw("retry_after")
	return errorBody{code: code, retryAfter: ra}
}

// retryAfter picks the wait of a 429: the Retry-After header (seconds or an
// HTTP date) when present and positive, else the body's retry_after, else
// DefaultRetryAfter. An HTTP date is measured against the answer's own Date
// header when there is one, so clock skew between us and the platform does
// not shorten or stretch the wait.
func retryAfter(h http.Header, bodyValue json.RawMessage) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if d, ok := parseSeconds(v); ok {
			return d
		}
		if at, err := http.ParseTime(v); err == nil {
			now := time.Now()
			if date, err := http.ParseTime(h.Get("Date")); err == nil {
				now = date
			}
			if d := at.Sub(now); d > 0 {
				return min(d, maxRetryAfter)
			}
		}
	}
	// The body's value may be a JSON number or a numeric string.
	if d, ok := parseSeconds(strings.Trim(string(bodyValue), `"`)); ok {
		return d
	}
	return DefaultRetryAfter
}

// parseSeconds reads a positive, possibly fractional, number of seconds.
func parseSeconds(s string) (time.Duration, bool) {
	secs, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(secs) || secs <= 0 {
		return 0, false
	}
	if secs >= maxRetryAfter.Seconds() {
		return maxRetryAfter, true
	}
	return time.Duration(secs * float64(time.Second)), true
}

// checkContentType accepts a JSON media type or none at all (then the body
// is tried as JSON); anything else, such as an HTML error page served with
// 200, is the wrong content.
func checkContentType(h http.Header) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return errors.New("unreadable content type")
	}
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return nil
	}
	return fmt.Errorf("content type %s, expected application/json", mt)
}

// sanitize makes a platform-supplied string safe for errors and logs: every
// secret is masked first, then only the first line is kept (a stack trace
// follows it), unprintable runes are dropped and the result is cut to
// maxCodeLen runes.
func sanitize(s string, secrets ...secret.Secret) string {
	s = mask(s, secrets)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s))
	// Dropping characters can join the pieces of a secret split by one.
	s = mask(s, secrets)
	if utf8.RuneCountInString(s) <= maxCodeLen {
		return s
	}
	return string([]rune(s)[:maxCodeLen]) + "…"
}

// mask replaces every secret in s with secret.Mask.
func mask(s string, secrets []secret.Secret) string {
	for _, v := range secrets {
		if !v.IsZero() {
			s = strings.ReplaceAll(s, v.Reveal(), secret.Mask)
		}
	}
	return s
}
