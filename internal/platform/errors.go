package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Kind classifies a failed platform call by the platform's answer, or the
// lack of one; every *Error carries one. It describes the call, not a
// task: what becomes of a task is the task policy's decision (package
// pipeline), which reads the Kind of an *Error and decides errors that
// hold none on its own terms.
type Kind int

const (
	// KindTransient failures may succeed when tried again later: 5xx answers,
	// timeouts, broken connections, cancelled contexts.
	KindTransient Kind = iota
	// KindPermanent failures will fail the same way every time: refused
	// credentials, other 4xx answers, bodies that are not what the contract
	// promises. Retrying only burns rate budget.
	KindPermanent
	// KindRateLimited means the platform refused the request for lack of
	// budget (429); Error.RetryAfter says how long to hold off.
	KindRateLimited
)

// String returns the kind's name, which is also the matching Outcome value.
func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindPermanent:
		return "permanent"
	case KindRateLimited:
		return "rate_limited"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Outcome labels one finished platform request for metrics; the values are
// stable because they end up as Prometheus label values.
type Outcome string

const (
	// OutcomeOK is a 2xx answer whose body decoded.
	OutcomeOK Outcome = "ok"
	// OutcomeRateLimited is a 429 answer.
	OutcomeRateLimited Outcome = "rate_limited"
	// OutcomeTransient is a failure worth retrying (see KindTransient). An
	// expired-token 401 that the client recovers from by itself also counts
	// here, so token expiry does not look like a permanent failure.
	OutcomeTransient Outcome = "transient"
	// OutcomePermanent is a failure not worth retrying (see KindPermanent).
	OutcomePermanent Outcome = "permanent"
)

// outcome labels the result of one request; a nil *Error is a success.
func (e *Error) outcome() Outcome {
	if e == nil {
		return OutcomeOK
	}
	return Outcome(e.Kind.String())
}

// ErrAuthRefused is wrapped by every error caused by the platform refusing
// the credentials or the token a second time; callers match it with
// errors.Is to tell "fix the configuration" apart from other failures.
var ErrAuthRefused = errors.New("auth refused")

// ErrCredentialsRefused is wrapped by the error of a token request that
// the platform refused (401 from POST /auth/token): the client's password
// is wrong, or was changed on the platform and not yet in adsync's
// configuration. It reads "auth refused" and errors.Is matches it with
// ErrAuthRefused too. Such an error carries Error.RefusedSince; its Kind
// stays KindPermanent (trying the same credentials again does not help),
// and what becomes of the task is the pipeline's decision: it waits a
// bounded while for new credentials.
var ErrCredentialsRefused error = credentialsRefused{}

// credentialsRefused is ErrCredentialsRefused's type: a comparable value
// that is also an ErrAuthRefused.
type credentialsRefused struct{}

func (credentialsRefused) Error() string { return ErrAuthRefused.Error() }

// Is makes errors.Is(err, ErrAuthRefused) hold for ErrCredentialsRefused.
func (credentialsRefused) Is(target error) bool { return target == ErrAuthRefused }

// ErrUnknownClient is wrapped when Options.Credentials knows no credentials
// for the client id a task names.
var ErrUnknownClient = errors.New("no credentials for client")

// Error is a classified failure of one platform call. It never holds a
// response body, a token or a password: Code is the platform's short error
// name only, cleaned up, so an Error can be logged and stored as it is.
type Error struct {
	// Kind is the classification that decides retries.
	Kind Kind
	// Op names the call, e.g. "list campaigns page 3".
	Op string
	// Status is the HTTP status, or 0 when no answer arrived.
	Status int
	// Code is the platform's "error" field, sanitised: one printable line of
	// at most maxCodeLen runes, with any secret masked.
	Code string
	// RetryAfter is the platform's requested wait for KindRateLimited; for
	// KindTransient, when the limiter booked the retry's slot further away
	// than it waits in place, how long until it.
	RetryAfter time.Duration
	// RefusedSince is set on an ErrCredentialsRefused error: when this
	// process first saw the platform refuse the client's credentials, with
	// no token issued to it since.
	RefusedSince time.Time
	// Err is the underlying cause, if any.
	Err error
}

// Error reads like
// "platform: list campaigns page 3: status 503 (Service temporarily unavailable): transient".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("platform: ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
		if e.Code != "" {
			fmt.Fprintf(&b, " (%s)", e.Code)
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ": retry after %s", e.RetryAfter)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	return b.String()
}

// Unwrap returns the cause, so errors.Is finds ErrAuthRefused,
// context.DeadlineExceeded and the like.
func (e *Error) Unwrap() error { return e.Err }

// refused reports whether e is the platform refusing a client's
// credentials (ErrCredentialsRefused); a nil *Error is not.
func (e *Error) refused() bool {
	return e != nil && errors.Is(e.Err, ErrCredentialsRefused)
}

// in names the API call that a token failure happened in: its Op becomes
// "list campaigns page 3: fetch token". The fetch is shared by many calls,
// so each gets its own copy.
func (e *Error) in(op string) *Error {
	cp := *e
	cp.Op = op + ": " + e.Op
	return &cp
}

// isTransient reports whether an error that did not come with an HTTP answer
// is worth retrying.
func isTransient(err error) bool {
	for _, target := range []error{
		context.DeadlineExceeded, context.Canceled,
		io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		net.ErrClosed,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) {
		return true
	}
	var timeout interface{ Timeout() bool }
	return errors.As(err, &timeout) && timeout.Timeout()
}
