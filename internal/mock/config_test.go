package mock

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/secret"
)

func TestDefaultConfigIsTheReferencePlatform(t *testing.T) {
	t.Parallel()
	require.Equal(t, Config{
		Addr:        ":3001",
		TimeScale:   1,
		Campaigns:   100,
		RateLimit:   10,
		RateWindow:  60 * time.Second,
		FailEvery:   5,
		HangPercent: 10,
		SyncDelay:   2 * time.Second,
		TokenTTL:    time.Hour,
		DownClients: []string{},
		Seed:        1,
		Accounts:    []Account{{Email: refEmail, Password: secret.Secret(refPassword)}},
	}, DefaultConfig())
}

func TestConfigReadsEveryKnob(t *testing.T) {
	t.Parallel()
	cfg, err := configFromEnviron(map[string]string{
		"MOCK_ADDR":               "127.0.0.1:4000",
		"MOCK_TIME_SCALE":         "60",
		"MOCK_CAMPAIGNS":          "25",
		"MOCK_RATE_LIMIT":         "0",
		"MOCK_RATE_WINDOW":        "30s",
		"MOCK_FAIL_EVERY":         "0",
		"MOCK_HANG_PERCENT":       "2.5",
		"MOCK_SYNC_DELAY":         "500ms",
		"MOCK_TOKEN_TTL":          "10m",
		"MOCK_POISON_EVERY":       "7",
		"MOCK_DOWN_CLIENTS":       "acme, zeta,,",
		"MOCK_SEED":               "-42",
		"MOCK_RETRY_AFTER_HEADER": "true",
		"MOCK_VOLATILE_METRICS":   "true",
		"MOCK_GROW_BY":            "3",
		"MOCK_ACCOUNTS":           "a@x.io:pa:ss,b@y.io:pw2",
		"MOCK_CLIENT_CAMPAIGNS":   "big:300,small:5",
	})
	require.NoError(t, err)
	require.Equal(t, Config{
		Addr:             "127.0.0.1:4000",
		TimeScale:        60,
		Campaigns:        25,
		RateLimit:        0,
		RateWindow:       30 * time.Second,
		FailEvery:        0,
		HangPercent:      2.5,
		SyncDelay:        500 * time.Millisecond,
		TokenTTL:         10 * time.Minute,
		PoisonEvery:      7,
		DownClients:      []string{"acme", "zeta"},
		Seed:             -42,
		RetryAfterHeader: true,
		VolatileMetrics:  true,
		GrowBy:           3,
		ClientCampaigns:  map[string]int{"big": 300, "small": 5},
		Accounts: []Account{
			{Email: "a@x.io", Password: secret.Secret("pa:ss")},
			{Email: "b@y.io", Password: secret.Secret("pw2")},
		},
	}, cfg)
}

func TestConfigFromEnvUsesTheProcessEnvironment(t *testing.T) {
	t.Setenv("MOCK_CAMPAIGNS", "7")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, 7, cfg.Campaigns)

	t.Setenv("MOCK_CAMPAIGNS", "seven")
	_, err = ConfigFromEnv()
	require.ErrorContains(t, err, "MOCK_CAMPAIGNS")
}

func TestConfigNamesEachBadVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ value, want string }{
		"MOCK_TIME_SCALE":         {"-1", "positive number"},
		"MOCK_CAMPAIGNS":          {"many", "invalid value"},
		"MOCK_RATE_LIMIT":         {"-3", "0 (off) or positive"},
		"MOCK_RATE_WINDOW":        {"60", "invalid value"},
		"MOCK_FAIL_EVERY":         {"-1", "0 (never) or positive"},
		"MOCK_HANG_PERCENT":       {"101", "between 0 and 100"},
		"MOCK_SYNC_DELAY":         {"-2s", "must not be negative"},
		"MOCK_TOKEN_TTL":          {"0s", "positive duration"},
		"MOCK_POISON_EVERY":       {"-7", "0 (off) or positive"},
		"MOCK_SEED":               {"x", "invalid value"},
		"MOCK_RETRY_AFTER_HEADER": {"yes please", "invalid value"},
		"MOCK_VOLATILE_METRICS":   {"2", "invalid value"},
		"MOCK_GROW_BY":            {"-1", "between 0 and"},
		"MOCK_ACCOUNTS":           {"nocolon", "no ':'"},
	}
	for name, c := range cases {
		_, err := configFromEnviron(map[string]string{name: c.value})
		require.Error(t, err, name)
		require.Equal(t, name+": ", err.Error()[:len(name)+2], "error must start with the variable: %v", err)
		require.Contains(t, err.Error(), c.want, name)
		require.NotContains(t, err.Error(), "\n", "one bad variable, one line: %v", err)
	}

	// All of them at once: one line each, none left out.
	all := map[string]string{}
	for name, c := range cases {
		all[name] = c.value
	}
	_, err := configFromEnviron(all)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, len(all), "%v", err)
	for name := range all {
		require.Contains(t, err.Error(), name+": ")
	}
}

func TestConfigRejectsOtherBadValues(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"MOCK_TIME_SCALE": "0"},
		{"MOCK_TIME_SCALE": "NaN"},
		{"MOCK_TIME_SCALE": "+Inf"},
		{"MOCK_TIME_SCALE": "1e-12"},
		{"MOCK_HANG_PERCENT": "-0.1"},
		{"MOCK_HANG_PERCENT": "NaN"},
		{"MOCK_CAMPAIGNS": "-1"},
		{"MOCK_CAMPAIGNS": "2000000"},
		{"MOCK_RATE_WINDOW": "0s"},
		{"MOCK_ACCOUNTS": "a@x.io:one,a@x.io:two"},
		{"MOCK_ACCOUNTS": ":pw"},
	} {
		_, err := configFromEnviron(env)
		require.Error(t, err, "%v", env)
		for name := range env {
			require.Contains(t, err.Error(), name+": ", "%v", env)
		}
	}
}

func TestConfigErrorsNeverShowPasswords(t *testing.T) {
	t.Parallel()
	for _, accounts := range []string{"hunter2", "a@x.io:", "a@x.io:hunter2,hunter2", "a@x.io:hunter2,a@x.io:hunter2"} {
		_, err := configFromEnviron(map[string]string{"MOCK_ACCOUNTS": accounts})
		require.Error(t, err, accounts)
		require.NotContains(t, err.Error(), "hunter2")
	}
}

func TestNewServerRejectsABadConfig(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.TimeScale = -1
	cfg.HangPercent = 150
	_, err := NewServer(cfg)
	require.ErrorContains(t, err, "MOCK_TIME_SCALE: ")
	require.ErrorContains(t, err, "MOCK_HANG_PERCENT: ")
}
