package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runMainVar makes the test binary run main instead of the tests, so that a
// test runs the command as a process with an environment of its choosing.
const runMainVar = "ENQUEUER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainVar) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// run runs `enqueuer args...` with exactly the variables env and returns
// its exit code and stderr.
func run(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{runMainVar + "=1"}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stderr.String()
}

// A bad configuration stops the command at start with exit 2 and one line
// per bad variable, before it connects to anything.
func TestBadConfigurationExitsTwoWithALinePerVariable(t *testing.T) {
	t.Parallel()
	code, stderr := run(t, []string{"PAGE_SIZE=0", "PLATFORM_RATE_LIMIT=ten"}, "status")
	require.Equal(t, 2, code, stderr)
	require.Equal(t, "PAGE_SIZE: must be between 1 and 100, got 0\n"+
		`PLATFORM_RATE_LIMIT: "ten" is not a valid whole number`+"\n", stderr)
}

// Help needs no configuration: it answers even when the configuration is
// bad; no command at all is bad usage.
func TestHelpAnswersWithABadConfiguration(t *testing.T) {
	t.Parallel()
	bad := []string{"PAGE_SIZE=0"}
	code, stderr := run(t, bad, "--help")
	require.Equal(t, 0, code, stderr)
	require.True(t, strings.HasPrefix(stderr, "usage:\n  enqueuer sync"), stderr)

	code, stderr = run(t, bad)
	require.Equal(t, 2, code, stderr)
	require.True(t, strings.HasPrefix(stderr, "usage:\n"), stderr)
}
