package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := LoadFrom(map[string]string{})
	require.NoError(t, err)
	require.Equal(t, 10, c.RateLimit)
	require.Equal(t, "redis://127.0.0.1:6379/0", c.RedisURL)
	require.Equal(t, ":8080", c.HTTPAddr)
	require.True(t, c.SyncCall)
	require.Equal(t, 100*time.Millisecond, c.PlatformTimeoutFloor)
	require.Equal(t, 2.0, c.PlatformTimeoutFactor)
}

// The learned timeouts' settings: a factor is a number from 1 to 10, a
// floor a positive duration; each bad value is named with what is wanted.
func TestTimeoutSettings(t *testing.T) {
	c, err := LoadFrom(map[string]string{"PLATFORM_TIMEOUT_FLOOR": "250ms", "PLATFORM_TIMEOUT_FACTOR": "1.5"})
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, c.PlatformTimeoutFloor)
	require.Equal(t, 1.5, c.PlatformTimeoutFactor)
	for value, want := range map[string]string{
		"two":  `PLATFORM_TIMEOUT_FACTOR: "two" is not a valid number (such as 2 or 1.5)`,
		"NaN":  "PLATFORM_TIMEOUT_FACTOR: must be between 1 and 10, got NaN",
		"0.99": "PLATFORM_TIMEOUT_FACTOR: must be between 1 and 10, got 0.99",
		"11":   "PLATFORM_TIMEOUT_FACTOR: must be between 1 and 10, got 11",
	} {
		_, err := LoadFrom(map[string]string{"PLATFORM_TIMEOUT_FACTOR": value})
		require.EqualError(t, err, want)
	}
	_, err = LoadFrom(map[string]string{"PLATFORM_TIMEOUT_FLOOR": "-1ms"})
	require.EqualError(t, err, "PLATFORM_TIMEOUT_FLOOR: must be positive, got -1ms")
}

// Every bad variable is reported, one line each, naming the variable.
func TestEveryBadVariableReportedOnItsOwnLine(t *testing.T) {
	bad := map[string]string{
		"REDIS_URL":               "http://nope",
		"DATABASE_URL":            "mysql://x",
		"PLATFORM_URL":            "not a url",
		"PLATFORM_RATE_LIMIT":     "0",
		"PLATFORM_RATE_WINDOW":    "soon",
		"PLATFORM_RATE_MARGIN":    "-1s",
		"RATE_WAIT_IN_PLACE":      "-1s",
		"PAGE_SIZE":               "abc",
		"PLATFORM_TIMEOUT":        "0s",
		"PLATFORM_TIMEOUT_FLOOR":  "0s",
		"PLATFORM_TIMEOUT_FACTOR": "0.5",
		"SYNC_CALL":               "maybe",
		"TASK_MAX_RETRY":          "-3",
		"RETRY_BACKOFF_MIN":       "0s",
		"WORKER_CONCURRENCY":      "0",
		"QUEUE_POLL_INTERVAL":     "0s",
		"SHUTDOWN_TIMEOUT":        "0s",
		"ASYNQMON_USER":           "ops",
		"LOG_LEVEL":               "loud",
		"LOG_FORMAT":              "xml",
		"WRITE_BATCH_SIZE":        "0",
		"WRITE_BATCH_WAIT":        "-1ms",
	}
	_, err := LoadFrom(bad)
	var p Problems
	require.True(t, errors.As(err, &p), "want Problems, got %v", err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, len(p))
	for name := range bad {
		found := 0
		for _, l := range lines {
			if strings.HasPrefix(l, name+": ") {
				found++
			}
		}
		require.Equal(t, 1, found, "variable %s should be reported exactly once in:\n%s", name, err)
	}
}

func TestSecretsRedactedInString(t *testing.T) {
	c, err := LoadFrom(map[string]string{
		"DATABASE_URL":      "postgres://u:dbpass-123@h/db",
		"REDIS_URL":         "redis://:redispass-456@h:6379/0",
		"PLATFORM_PASSWORD": "platpass-789",
	})
	require.NoError(t, err)
	s := c.String()
	for _, secret := range []string{"dbpass-123", "redispass-456", "platpass-789"} {
		require.NotContains(t, s, secret)
	}
}

func TestSingleClientFromVariables(t *testing.T) {
	c, err := LoadFrom(map[string]string{"PLATFORM_EMAIL": "a@b.c", "PLATFORM_PASSWORD": "pw", "PLATFORM_CLIENT_ID": "acme"})
	require.NoError(t, err)
	cl, err := c.Clients()
	require.NoError(t, err)
	require.Equal(t, []Client{{ID: "acme", Email: "a@b.c", Password: "pw"}}, cl)

	c, err = LoadFrom(map[string]string{})
	require.NoError(t, err)
	_, err = c.Clients()
	require.ErrorContains(t, err, "PLATFORM_EMAIL: required")
	require.ErrorContains(t, err, "PLATFORM_PASSWORD: required")
}

func TestClientsFile(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"ACME_PW": "from-env"}[k] }
	cl, err := parseClients([]byte(`[{"id":"acme","email":"a@x","password_env":"ACME_PW"},{"id":"beta","email":"b@x","password":"inline"}]`), getenv)
	require.NoError(t, err)
	require.Equal(t, "from-env", cl[0].Password.Reveal())
	require.Equal(t, "inline", cl[1].Password.Reveal())

	cases := map[string]string{
		`not json`: "not a JSON list",
		`[]`:       "empty",
		`[{"id":"a","email":"e","password":"p"},{"id":"a","email":"e","password":"p"}]`: "duplicate id, first used by client #1",
		`[{"email":"e","password":"p"}]`:                                                "id is missing",
		`[{"id":"a b","email":"e","password":"p"}]`:                                     "is not valid",
		`[{"id":"a","password":"p"}]`:                                                   "email is missing",
		`[{"id":"a","email":"e"}]`:                                                      "password (or password_env or password_file) is missing",
		`[{"id":"a","email":"e","password_env":"NOPE"}]`:                                "NOPE, which is not set",
		`[{"id":"a","email":"e","password":"p","password_env":"X"}]`:                    "give one of",
		`[{"id":"a","email":"e","password":"p","extra":1}]`:                             "unknown field",
	}
	for in, want := range cases {
		_, err := parseClients([]byte(in), getenv)
		require.ErrorContains(t, err, want, "input %s", in)
	}
}

func TestClientsFileUnreadable(t *testing.T) {
	c, err := LoadFrom(map[string]string{"CLIENTS_FILE": filepath.Join(t.TempDir(), "missing.json")})
	require.NoError(t, err)
	_, err = c.Clients()
	require.ErrorContains(t, err, "CLIENTS_FILE: cannot read")

	path := filepath.Join(t.TempDir(), "clients.json")
	require.NoError(t, os.WriteFile(path, []byte(`[{"id":"x","email":"e","password":"secret-pw"}]`), 0o600))
	c, err = LoadFrom(map[string]string{"CLIENTS_FILE": path})
	require.NoError(t, err)
	cl, err := c.Clients()
	require.NoError(t, err)
	require.Len(t, cl, 1)
}
