package enqueuer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/enqueuer"
	"github.com/adsync/adsync/internal/testenv"
)

// A broken clients file under `schedule`: the last good list stays, and
// its problem is logged on one line, once, however many ticks read it,
// and again only when the problem changes; a fixed file is logged as valid
// again and its new client is scheduled from then on.
func TestScheduleLogsABrokenFileOncePerProblem(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme"}, nil)
	sched := startSchedule(t, b, "20ms")
	stderr := &sched.stderr
	// No worker runs: acme's run stays running, so every tick after the
	// first logs one "skipped" line for it, which counts the ticks.
	ticks := func() int { return strings.Count(stderr.String(), "skipped: previous run still in progress") }
	waitTicks := func(n int) {
		t.Helper()
		from := ticks()
		testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("%d more ticks", n), func() bool { return ticks() >= from+n })
	}
	refusals := func() []string {
		var out []string
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(line, "clients configuration refused") {
				out = append(out, line)
			}
		}
		return out
	}
	waitTicks(1)

	// Two problems: config reports them on two lines.
	write := func(content string) {
		t.Helper()
		path := b.cfg.ClientsFile
		require.NoError(t, os.WriteFile(path+".new", []byte(content), 0o600))
		require.NoError(t, os.Rename(path+".new", path))
	}
	write(`[{"id":"acme","email":"acme@example.test"},{"id":"beta","password":"` + password + `"}]`)
	waitTicks(5)
	lines := refusals()
	require.Len(t, lines, 1, "one line for one problem, however many ticks:\n%s", stderr.String())
	require.Contains(t, lines[0], `client #1 (acme): password (or password_env or password_file) is missing; `+
		`CLIENTS_FILE: client #2 (beta): email is missing`)
	require.NotContains(t, lines[0], `\n`, "the problem is on one line")
	require.NotContains(t, stderr.String(), password)

	write(`not json`)
	waitTicks(5)
	lines = refusals()
	require.Len(t, lines, 2, "a new problem is a new line")
	require.Contains(t, lines[1], "not a JSON list")

	write(fmt.Sprintf(`[{"id":"acme","email":"acme@example.test","password":%q},{"id":"beta","email":"beta@example.test","password":%q}]`,
		password, password))
	testenv.WaitFor(t, 30*time.Second, "beta's first scheduled run", func() bool {
		runs, err := b.store.RecentRuns(context.Background(), 10)
		require.NoError(t, err)
		for _, r := range runs {
			if r.ClientID == "beta" {
				return true
			}
		}
		return false
	})
	require.Contains(t, stderr.String(), "clients configuration valid again")
	require.Len(t, refusals(), 2)
	sched.stop(t)
}

// scheduling is `enqueuer schedule` running beside a test.
type scheduling struct {
	stderr testenv.LogBuffer
	cancel context.CancelFunc
	done   chan int
}

// startSchedule runs `enqueuer schedule --every every` until the test
// stops it or ends.
func startSchedule(t *testing.T, b *testBundle, every string) *scheduling {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &scheduling{cancel: cancel, done: make(chan int, 1)}
	go func() {
		s.done <- enqueuer.Main(ctx, b.cfg, []string{"schedule", "--every", every}, &bytes.Buffer{}, &s.stderr)
	}()
	return s
}

// stop ends the scheduler's context and requires it to exit 0 soon after.
func (s *scheduling) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		require.Equal(t, enqueuer.ExitOK, code, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("schedule did not stop within 30s of its context ending")
	}
}
