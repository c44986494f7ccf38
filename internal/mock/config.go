package mock

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/adsync/adsync/internal/secret"
)

// Config holds every knob of the mock, one field per MOCK_* variable. The
// struct tags are the single source of the defaults: DefaultConfig and
// ConfigFromEnv both read them. Durations are in PLATFORM time, the time of
// the real ad platform; the server divides them by TimeScale.
type Config struct {
	// Addr is the listen address of cmd/mockapi. Default ":3001".
	Addr string `env:"MOCK_ADDR" envDefault:":3001"`
	// TimeScale divides every platform duration (rate window, sync delay,
	// token life, retry_after), so 60 runs the platform 60 times faster.
	// Default 1; must be positive.
	TimeScale float64 `env:"MOCK_TIME_SCALE" envDefault:"1"`
	// Campaigns is the size of each client's catalogue before any growth.
	// Default 100; 0 serves empty catalogues.
	Campaigns int `env:"MOCK_CAMPAIGNS" envDefault:"100"`
	// ClientCampaigns gives some clients another catalogue size, written
	// "client:size,client2:size2", so a test can sync a large and a small
	// account side by side. Default none.
	ClientCampaigns map[string]int `env:"MOCK_CLIENT_CAMPAIGNS"`
	// RateLimit is how many /api requests one client may make per
	// RateWindow. Default 10; 0 disables rate limiting.
	RateLimit int `env:"MOCK_RATE_LIMIT" envDefault:"10"`
	// RateWindow is the length of the sliding window of the rate limit (and
	// of the max_in_window statistic). Default 60s; must be positive.
	RateWindow time.Duration `env:"MOCK_RATE_WINDOW" envDefault:"60s"`
	// FailEvery makes every Nth admitted, authenticated GET /api/campaigns
	// answer 503, counted across all clients. Default 5; 0 never fails.
	FailEvery int `env:"MOCK_FAIL_EVERY" envDefault:"5"`
	// HangPercent is the share (0..100) of admitted, authenticated /api
	// requests that never get an answer. Default 10; 0 never hangs.
	HangPercent float64 `env:"MOCK_HANG_PERCENT" envDefault:"10"`
	// SyncDelay is how long POST /api/campaigns/{id}/sync takes to answer.
	// Default 2s; 0 answers at once.
	SyncDelay time.Duration `env:"MOCK_SYNC_DELAY" envDefault:"2s"`
	// TokenTTL is the life of an access token. Default 3600s; must be
	// positive.
	TokenTTL time.Duration `env:"MOCK_TOKEN_TTL" envDefault:"3600s"`
	// PoisonEvery makes every Nth campaign of a catalogue invalid on the
	// wire (see Campaign.Poison). Default 0: every record is valid.
	PoisonEvery int `env:"MOCK_POISON_EVERY" envDefault:"0"`
	// DownClients lists client ids (X-Client-ID) whose every request, token
	// requests included, answers 503. Default none.
	DownClients []string `env:"MOCK_DOWN_CLIENTS"`
	// Seed makes the catalogue data and the hang decisions reproducible.
	// Default 1.
	Seed int64 `env:"MOCK_SEED" envDefault:"1"`
	// RetryAfterHeader adds a Retry-After header to 429 answers. Default
	// false: like the reference platform, the wait is only in the body.
	RetryAfterHeader bool `env:"MOCK_RETRY_AFTER_HEADER" envDefault:"false"`
	// VolatileMetrics makes impressions, clicks and conversions grow on
	// every list call. Default false: every value is deterministic.
	VolatileMetrics bool `env:"MOCK_VOLATILE_METRICS" envDefault:"false"`
	// GrowBy adds this many campaigns to a client's catalogue right after
	// its first list page is served (once), so a client that trusted the
	// first total misses rows. Default 0: catalogues never grow.
	GrowBy int `env:"MOCK_GROW_BY" envDefault:"0"`
	// EmptyFrom makes every page from this one on answer an empty data
	// array with has_more true (and the catalogue's total), as a broken
	// platform does; a client that trusts has_more pages forever. Default
	// 0: off.
	EmptyFrom int `env:"MOCK_EMPTY_FROM" envDefault:"0"`
	// RepeatFrom makes every page from this one on (2 or more) answer the
	// records, total and has_more of the page before it, with
	// pagination.page as asked: a platform that ignores page. Default 0:
	// off.
	RepeatFrom int `env:"MOCK_REPEAT_FROM" envDefault:"0"`
	// NullEvery sends null metrics on every Nth campaign, cycling through
	// conversions, impressions, clicks, budget, and all four (see
	// Campaign.Nulls). Default 0: every metric has a figure.
	NullEvery int `env:"MOCK_NULL_EVERY" envDefault:"0"`
	// ChangeAfterPage changes a client's catalogue once, right after its
	// page of this number is first served: the first Delete campaigns in
	// listing order are deleted, and Insert new ones are inserted at the
	// front, so every later campaign moves by Insert-Delete places under
	// a client that is paging. Default 0: catalogues never change so.
	ChangeAfterPage int `env:"MOCK_CHANGE_AFTER_PAGE" envDefault:"0"`
	// Insert is how many campaigns ChangeAfterPage inserts. Default 0.
	Insert int `env:"MOCK_INSERT" envDefault:"0"`
	// Delete is how many campaigns ChangeAfterPage deletes. Default 0.
	Delete int `env:"MOCK_DELETE" envDefault:"0"`
	// Accounts are the logins POST /auth/token accepts, written
	// "email:password,email2:password2". Default the reference account.
	Accounts []Account `env:"MOCK_ACCOUNTS" envDefault:"admin@mixoads.com:SuperSecret123!"`
}

// Account is one login the mock accepts. The password is a secret.Secret so
// that logging a Config never prints it.
type Account struct {
	// Email is the user half of the Basic credentials.
	Email string
	// Password is the password half of the Basic credentials.
	Password secret.Secret
}

// maxCampaigns bounds MOCK_CAMPAIGNS and MOCK_GROW_BY so a typo cannot make
// the mock build pages for billions of rows.
const maxCampaigns = 1_000_000

// UnmarshalText parses "email:password" (split at the first colon), so env
// can read MOCK_ACCOUNTS. Its errors never repeat the password.
func (a *Account) UnmarshalText(text []byte) error {
	email, password, ok := strings.Cut(string(text), ":")
	email = strings.TrimSpace(email)
	switch {
	case !ok:
		return errors.New("an account has no ':' between email and password")
	case email == "":
		return errors.New("an account has an empty email")
	case password == "":
		return fmt.Errorf("account %q has an empty password", email)
	}
	a.Email, a.Password = email, secret.Secret(password)
	return nil
}

// DefaultConfig returns the configuration used when no MOCK_* variable is
// set: the reference platform's behaviour.
func DefaultConfig() Config {
	cfg, err := configFromEnviron(map[string]string{})
	if err != nil {
		// The defaults are constants checked by the tests; reaching this is a
		// programming error in the struct tags.
		panic(fmt.Sprintf("mock: default configuration is invalid: %v", err))
	}
	return cfg
}

// ConfigFromEnv reads the MOCK_* variables. A bad value yields an error with
// one line per bad variable, naming it, so an operator fixes all at once.
func ConfigFromEnv() (Config, error) {
	return configFromEnviron(env.ToMap(os.Environ()))
}

// configFromEnviron is ConfigFromEnv over an explicit environment, so tests
// need not touch the process environment.
func configFromEnviron(environ map[string]string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: environ})
	var lines []error
	failed := map[string]bool{}
	var agg env.AggregateError
	if errors.As(err, &agg) {
		for _, e := range agg.Errors {
			var pe env.ParseError
			if errors.As(e, &pe) {
				name := envName(pe.Name)
				failed[name] = true
				lines = append(lines, fmt.Errorf("%s: invalid value: %w", name, pe.Err))
				continue
			}
			lines = append(lines, e)
		}
	} else if err != nil {
		lines = append(lines, err)
	}
	for _, fe := range cfg.problems() {
		if !failed[fe.name] {
			lines = append(lines, fe)
		}
	}
	if len(lines) > 0 {
		return Config{}, errors.Join(lines...)
	}
	cfg.DownClients = cleanIDs(cfg.DownClients)
	return cfg, nil
}

// envName maps a Config field name to its variable, for error lines.
func envName(field string) string {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		return field
	}
	return strings.Split(f.Tag.Get("env"), ",")[0]
}

// fieldError is one bad variable.
type fieldError struct {
	name string
	msg  string
}

func (e fieldError) Error() string { return e.name + ": " + e.msg }

// problems lists what is wrong with a parsed configuration, one entry per
// variable.
func (c Config) problems() []fieldError {
	var out []fieldError
	bad := func(name, format string, args ...any) {
		out = append(out, fieldError{name, fmt.Sprintf(format, args...)})
	}
	if c.Addr == "" {
		bad("MOCK_ADDR", "must not be empty")
	}
	if !(c.TimeScale > 0) || math.IsInf(c.TimeScale, 0) {
		bad("MOCK_TIME_SCALE", "must be a positive number, got %v", c.TimeScale)
	} else if longest := max(c.RateWindow, c.SyncDelay, c.TokenTTL); float64(longest)/c.TimeScale >= math.MaxInt64 {
		bad("MOCK_TIME_SCALE", "%v is too small: %s of platform time would last longer than 292 years", c.TimeScale, longest)
	}
	if c.Campaigns < 0 || c.Campaigns > maxCampaigns {
		bad("MOCK_CAMPAIGNS", "must be between 0 and %d, got %d", maxCampaigns, c.Campaigns)
	}
	if c.RateLimit < 0 {
		bad("MOCK_RATE_LIMIT", "must be 0 (off) or positive, got %d", c.RateLimit)
	}
	if c.RateWindow <= 0 {
		bad("MOCK_RATE_WINDOW", "must be a positive duration, got %s", c.RateWindow)
	}
	if c.FailEvery < 0 {
		bad("MOCK_FAIL_EVERY", "must be 0 (never) or positive, got %d", c.FailEvery)
	}
	if !(c.HangPercent >= 0 && c.HangPercent <= 100) {
		bad("MOCK_HANG_PERCENT", "must be between 0 and 100, got %v", c.HangPercent)
	}
	if c.SyncDelay < 0 {
		bad("MOCK_SYNC_DELAY", "must not be negative, got %s", c.SyncDelay)
	}
	if c.TokenTTL <= 0 {
		bad("MOCK_TOKEN_TTL", "must be a positive duration, got %s", c.TokenTTL)
	}
	if c.PoisonEvery < 0 {
		bad("MOCK_POISON_EVERY", "must be 0 (off) or positive, got %d", c.PoisonEvery)
	}
	for id, n := range c.ClientCampaigns {
		if n < 0 || n > maxCampaigns {
			bad("MOCK_CLIENT_CAMPAIGNS", "client %s: must be between 0 and %d, got %d", id, maxCampaigns, n)
		}
	}
	if c.GrowBy < 0 || c.GrowBy > maxCampaigns {
		bad("MOCK_GROW_BY", "must be between 0 and %d, got %d", maxCampaigns, c.GrowBy)
	}
	for _, k := range []struct {
		name string
		v    int
	}{{"MOCK_EMPTY_FROM", c.EmptyFrom}, {"MOCK_NULL_EVERY", c.NullEvery}, {"MOCK_CHANGE_AFTER_PAGE", c.ChangeAfterPage}} {
		if k.v < 0 {
			bad(k.name, "must be 0 (off) or positive, got %d", k.v)
		}
	}
	if c.RepeatFrom < 0 || c.RepeatFrom == 1 {
		bad("MOCK_REPEAT_FROM", "must be 0 (off) or 2 or more (the page whose predecessor is repeated), got %d", c.RepeatFrom)
	}
	for _, k := range []struct {
		name string
		v    int
	}{{"MOCK_INSERT", c.Insert}, {"MOCK_DELETE", c.Delete}} {
		if k.v < 0 || k.v > maxCampaigns {
			bad(k.name, "must be between 0 and %d, got %d", maxCampaigns, k.v)
		}
	}
	if msg := accountsProblem(c.Accounts); msg != "" {
		bad("MOCK_ACCOUNTS", "%s", msg)
	}
	return out
}

// accountsProblem says what is wrong with a list of accounts, or "".
func accountsProblem(accounts []Account) string {
	if len(accounts) == 0 {
		return "at least one email:password account is required"
	}
	seen := map[string]bool{}
	for _, a := range accounts {
		if a.Email == "" || a.Password.IsZero() {
			return "every account needs an email and a password"
		}
		if seen[a.Email] {
			return fmt.Sprintf("account %q is listed twice", a.Email)
		}
		seen[a.Email] = true
	}
	return ""
}

// validate reports every problem of a configuration as one error, one line
// per bad variable.
func (c Config) validate() error {
	var errs []error
	for _, fe := range c.problems() {
		errs = append(errs, fe)
	}
	return errors.Join(errs...)
}

// cleanIDs trims client ids and drops empty ones, so "a, b," means a and b.
func cleanIDs(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// initialSize is a client's catalogue size before any growth.
func (c Config) initialSize(clientID string) int {
	if n, ok := c.ClientCampaigns[clientID]; ok {
		return n
	}
	return c.Campaigns
}

// scaled converts a platform duration to real time.
func (c Config) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.TimeScale)
}
