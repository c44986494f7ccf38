package chaos

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/config"
)

// leak marks the secrets written into bad values: no error line may repeat
// them.
const leak = "Chaos-Leak-7c1e"

// unreachable points the stores at closed loopback ports, so a binary that
// wrongly accepted its configuration fails fast instead of touching the
// machine's shared Redis and PostgreSQL.
var unreachable = map[string]string{
	"REDIS_URL":         "redis://127.0.0.1:1/0",
	"DATABASE_URL":      "postgres://postgres@127.0.0.1:1/adsync_chaos?sslmode=disable",
	"PLATFORM_URL":      "http://127.0.0.1:1",
	"PLATFORM_EMAIL":    "ops@example.test",
	"PLATFORM_PASSWORD": "pa55-" + leak,
	"HTTP_ADDR":         "127.0.0.1:0",
}

// badByType is a value that does not parse, per Go type of the field.
var badByType = map[string]string{
	"int":           "abc",
	"bool":          "maybe",
	"time.Duration": "soon",
}

// badInRange are values that parse but are out of range, per variable.
var badInRange = map[string]string{
	"PLATFORM_RATE_LIMIT":     "0",
	"PLATFORM_RATE_WINDOW":    "0s",
	"PLATFORM_RATE_MARGIN":    "-1s",
	"RATE_WAIT_IN_PLACE":      "-1s",
	"PAGE_SIZE":               "101",
	"PLATFORM_TIMEOUT":        "0s",
	"PLATFORM_TIMEOUT_FLOOR":  "0s",
	"PLATFORM_TIMEOUT_FACTOR": "0.5",
	"TASK_MAX_RETRY":          "-1",
	"LIST_RECONCILE_PASSES":   "-1",
	"RETRY_BACKOFF_MIN":       "0s",
	"RETRY_BACKOFF_MAX":       "-1s",
	"WORKER_CONCURRENCY":      "0",
	"QUEUE_POLL_INTERVAL":     "0s",
	"SHUTDOWN_TIMEOUT":        "0s",
	"WRITE_BATCH_SIZE":        "0",
	"WRITE_BATCH_WAIT":        "2s",
}

// badText are bad values of the text variables checked at load time.
// Values hold a secret that the error line must not repeat.
var badText = map[string]string{
	"REDIS_URL":     "http://:" + leak + "@127.0.0.1:6379/0",
	"DATABASE_URL":  "mysql://u:" + leak + "@127.0.0.1/adsync",
	"PLATFORM_URL":  "ftp://u:" + leak + "@127.0.0.1",
	"LOG_LEVEL":     "loud",
	"LOG_FORMAT":    "xml",
	"ASYNQMON_USER": "ops",  // without ASYNQMON_PASSWORD
	"HTTP_ADDR":     "8080", // no colon
}

// checkedWithClients are the variables checked when the clients are read
// (after the generic load), with a bad value each and the text expected.
var checkedWithClients = map[string]struct{ value, want string }{
	"PLATFORM_EMAIL":     {"", "PLATFORM_EMAIL: required"},
	"PLATFORM_PASSWORD":  {"", "PLATFORM_PASSWORD: required"},
	"PLATFORM_CLIENT_ID": {"no spaces allowed", "PLATFORM_CLIENT_ID: "},
	"CLIENTS_FILE":       {"/nonexistent/clients.json", "CLIENTS_FILE: cannot read"},
}

// notCheckedAtStart are variables no start-up check can judge, with why.
var notCheckedAtStart = map[string]string{
	"ASYNQMON_PASSWORD": "reported on the ASYNQMON_USER line: the two must be set together",
}

// badValue returns a bad value for an adsync variable of the given Go type.
func badValue(name, goType string) (string, bool) {
	if v, ok := badInRange[name]; ok {
		return v, true
	}
	if v, ok := badText[name]; ok {
		return v, true
	}
	v, ok := badByType[goType]
	return v, ok
}

// variables lists every variable of config.Config with its Go type.
func variables() map[string]string {
	out := map[string]string{}
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if name := strings.Split(f.Tag.Get("env"), ",")[0]; name != "" {
			out[name] = f.Type.String()
		}
	}
	return out
}

// runBinary runs a binary to its end (it must exit within 10 s) and
// returns its exit code and its non-empty stderr lines.
func runBinary(t *testing.T, name string, env map[string]string, args ...string) (int, []string) {
	t.Helper()
	p := startProc(t, t.TempDir(), name, binary(name), env, args...)
	code := p.wait(t, 10*time.Second)
	var lines []string
	for _, l := range strings.Split(p.stderr(), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return code, lines
}

// with returns base plus the given variables.
func with(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// binaries are the programs that read adsync's configuration, with the
// arguments that make them read it.
var binaries = []struct {
	name string
	args []string
}{{"worker", nil}, {"enqueuer", []string{"sync"}}}

// Every variable, alone with a bad value, stops both binaries at start with
// exit status 2 and exactly one line, naming the variable and repeating no
// secret.
func TestEachBadVariableExits2WithOneLine(t *testing.T) {
	t.Parallel()
	vars := variables()
	for name, goType := range vars {
		if _, ok := checkedWithClients[name]; ok {
			continue
		}
		value, ok := badValue(name, goType)
		if !ok {
			if _, skip := notCheckedAtStart[name]; !skip {
				t.Errorf("variable %s (%s) has no bad value in this test: add one", name, goType)
			}
			continue
		}
		for _, b := range binaries {
			t.Run(b.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				code, lines := runBinary(t, b.name, with(unreachable, name, value), b.args...)
				require.Equal(t, 2, code, "exit status; stderr:\n%s", strings.Join(lines, "\n"))
				require.Len(t, lines, 1, "one line per problem")
				require.Contains(t, lines[0], name)
				require.NotContains(t, lines[0], leak, "the error line repeats a secret")
			})
		}
	}
	// Every parse-type case is exercised by some variable.
	for _, goType := range vars {
		delete(badByType, goType)
	}
	require.Empty(t, badByType, "bad values for types no variable has")
}

// All bad at once: one line per variable, each named exactly once.
func TestAllBadVariablesReportedTogether(t *testing.T) {
	t.Parallel()
	env := with(unreachable)
	var names []string
	for name, goType := range variables() {
		if _, ok := checkedWithClients[name]; ok {
			continue
		}
		if v, ok := badValue(name, goType); ok {
			env[name] = v
			names = append(names, name)
		}
	}
	for _, b := range binaries {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			code, lines := runBinary(t, b.name, env, b.args...)
			require.Equal(t, 2, code)
			require.Len(t, lines, len(names), "one line per bad variable:\n%s", strings.Join(lines, "\n"))
			for _, name := range names {
				n := 0
				for _, l := range lines {
					if strings.HasPrefix(l, name+": ") {
						n++
					}
				}
				require.Equal(t, 1, n, "lines starting with %s:", name)
			}
			require.NotContains(t, strings.Join(lines, "\n"), leak)
		})
	}
}

// Missing or bad credentials (PLATFORM_* or CLIENTS_FILE) stop both
// binaries with exit status 2 and a line naming the variable.
func TestBadCredentialsExit2(t *testing.T) {
	t.Parallel()
	malformed := filepath.Join(t.TempDir(), "clients.json")
	require.NoError(t, os.WriteFile(malformed, []byte(`{"id":"not a list"}`), 0o600))
	cases := map[string]struct{ value, want string }{"CLIENTS_FILE (malformed)": {malformed, "CLIENTS_FILE: not a JSON list"}}
	for name, c := range checkedWithClients {
		cases[name] = c
	}
	for label, c := range cases {
		name, _, _ := strings.Cut(label, " ")
		for _, b := range binaries {
			t.Run(b.name+"/"+label, func(t *testing.T) {
				t.Parallel()
				env := with(unreachable, name, c.value)
				if c.value == "" {
					delete(env, name)
				}
				code, lines := runBinary(t, b.name, env, b.args...)
				all := strings.Join(lines, "\n")
				require.Contains(t, all, c.want)
				require.NotContains(t, all, leak)
				require.Equal(t, 2, code, "exit status; stderr:\n%s", all)
			})
		}
	}
}
