package ratelimit

import (
	"errors"
	"fmt"
	"time"

	"github.com/adsync/adsync/internal/clock"
)

// DefaultKeyPrefix is the prefix of every Redis key the limiter writes when
// Options.KeyPrefix is empty.
const DefaultKeyPrefix = "adsync:ratelimit:"

// Options configure a Limiter. Limit and Window describe the platform's
// sliding window; every process that shares a client's budget must use the
// same values and the same KeyPrefix.
type Options struct {
	// Limit is how many requests the platform accepts per Window
	// (PLATFORM_RATE_LIMIT). Required: must be at least 1; zero is refused.
	Limit int

	// Window is the length of the platform's sliding window
	// (PLATFORM_RATE_WINDOW). Required: must be positive; zero is refused.
	Window time.Duration

	// Margin is added to Window when spacing our sends, to absorb the varying
	// delay between the moment a send is stamped in Redis and the moment the
	// request reaches the platform (see the package documentation). It must
	// cover the spread of that delay, not the delay itself. Zero means no
	// margin, which is only safe if that delay never varies; negative is
	// refused.
	Margin time.Duration

	// MaxInPlaceWait is the longest wait that Wait sleeps through. A
	// caller whose slot is further away gets a *NoBudgetError, so it can put
	// its task back in the queue instead of holding a worker; a holder's slot
	// is booked as its ticket all the same. Zero means only an immediate slot
	// is used in place; negative is refused.
	MaxInPlaceWait time.Duration

	// KeyPrefix starts every Redis key of the limiter. Empty means
	// DefaultKeyPrefix.
	KeyPrefix string

	// Observer, when not nil, is told about every decision, for metrics.
	Observer Observer

	// Clock tells the time every decision is made at; nil means
	// clock.System. Every process sharing a budget must read clocks that
	// agree to well within Margin, as NTP keeps them.
	Clock clock.Clock
}

// Observer receives the limiter's decisions, so that metrics can be kept
// without the limiter depending on a metrics library. Its methods are called
// synchronously on the caller's goroutine and must be quick and safe for
// concurrent use.
type Observer interface {
	// Waited is called when a send is booked, with the wait before it may
	// go (0 when it may go at once).
	Waited(clientID string, d time.Duration)
	// NoBudget is called when the caller is sent away because its slot is
	// d away, more than MaxInPlaceWait.
	NoBudget(clientID string, d time.Duration)
	// GaveUp is called when a slot is given up because its caller was late
	// for it by late, more than half the margin: a sign that the margin is
	// too small for this machine's latencies, or that it is starved of CPU.
	GaveUp(clientID string, late time.Duration)
}

// validate reports every invalid field at once and fills in defaults.
func (o *Options) validate() error {
	var errs []error
	if o.Limit < 1 {
		errs = append(errs, fmt.Errorf("option Limit must be at least 1, got %d", o.Limit))
	}
	if o.Window <= 0 {
		errs = append(errs, fmt.Errorf("option Window must be positive, got %s", o.Window))
	}
	if o.Margin < 0 {
		errs = append(errs, fmt.Errorf("option Margin must not be negative, got %s", o.Margin))
	}
	if o.MaxInPlaceWait < 0 {
		errs = append(errs, fmt.Errorf("option MaxInPlaceWait must not be negative, got %s", o.MaxInPlaceWait))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ratelimit: invalid options: %w", err)
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.Clock == nil {
		o.Clock = clock.System
	}
	return nil
}
