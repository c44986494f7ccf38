package enqueuer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/enqueuer"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
	"github.com/adsync/adsync/internal/wiring"
)

// password is every test client's; no command may print it.
const password = "pa55-Enqueuer-7c1d"

// testBundle is a configuration naming a Redis database, a PostgreSQL
// database and a clients file of the test's own, with handles on the
// first two for checking what a command did.
type testBundle struct {
	cfg       config.Config
	store     *store.Store
	rdb       *redis.Client
	inspector *asynq.Inspector
}

// setup configures the clients ids (with extra variables) and migrates the
// database, as any enqueuer command would at start.
func setup(t *testing.T, ids []string, extra map[string]string) *testBundle {
	t.Helper()
	vars := map[string]string{
		"REDIS_URL":    testenv.RedisURL(t),
		"DATABASE_URL": testenv.DatabaseURL(t),
		"CLIENTS_FILE": writeClients(t, ids),
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.LoadFrom(vars)
	require.NoError(t, err)
	st, err := wiring.Store(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	opt, err := redis.ParseURL(cfg.RedisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return &testBundle{cfg: cfg, store: st, rdb: rdb, inspector: asynq.NewInspectorFromRedisClient(rdb)}
}

// writeClients writes a clients file naming the ids, each with password.
func writeClients(t *testing.T, ids []string) string {
	t.Helper()
	entries := make([]string, len(ids))
	for i, id := range ids {
		entries[i] = fmt.Sprintf(`{"id":%q,"email":"%s@example.test","password":%q}`, id, id, password)
	}
	path := filepath.Join(t.TempDir(), "clients.json")
	require.NoError(t, os.WriteFile(path, []byte("["+strings.Join(entries, ",")+"]"), 0o600))
	return path
}

// run runs `enqueuer args...` with the bundle's configuration.
func (b *testBundle) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = enqueuer.Main(context.Background(), b.cfg, args, &out, &errOut)
	require.NotContains(t, out.String()+errOut.String(), password)
	return code, out.String(), errOut.String()
}

// runIDs reads the run id of each `run N client=ID...` line of sync's
// output, by client.
func runIDs(t *testing.T, stdout string) map[string]int64 {
	t.Helper()
	ids := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^run (\d+) client=(\S+)`).FindAllStringSubmatch(stdout, -1) {
		id, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		ids[m[2]] = id
	}
	return ids
}

// pendingPages lists the fetch-page tasks queued to run, now or at their
// booked slot of the rate budget.
func (b *testBundle) pendingPages(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		b.inspector.ListPendingTasks, b.inspector.ListScheduledTasks} {
		for _, q := range tasks.PageQueues {
			infos, err := list(q)
			if err != nil {
				require.ErrorIs(t, err, asynq.ErrQueueNotFound)
			}
			for _, info := range infos {
				ids = append(ids, info.ID)
			}
		}
	}
	return ids
}

// `sync` without --wait starts one run per configured client, prints each,
// enqueues each run's first page and returns at once; a client whose run is
// going is named with that run and not started again.
func TestSyncStartsRunsWithoutWaiting(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme", "beta"}, nil)

	code, stdout, stderr := b.run(t, "sync")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	ids := runIDs(t, stdout)
	require.Len(t, ids, 2, stdout)
	for _, client := range []string{"acme", "beta"} {
		run, err := b.store.Run(context.Background(), ids[client])
		require.NoError(t, err)
		require.Equal(t, client, run.ClientID)
		require.Equal(t, store.StatusRunning, run.Status)
	}
	require.ElementsMatch(t, []string{tasks.FetchPageID(ids["acme"], 1), tasks.FetchPageID(ids["beta"], 1)}, b.pendingPages(t))

	code, stdout, stderr = b.run(t, "sync", "--client", "beta")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	require.Equal(t, fmt.Sprintf("run %d client=beta (already in progress; not started again)\n", ids["beta"]), stdout)
	runs, err := b.store.RecentRuns(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, runs, 2)
}

// `status` lists the recent runs; `status RUN` shows one with its listing
// and its dead letters.
func TestStatusShowsRunsAndOneRunsDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme"}, nil)
	code, stdout, stderr := b.run(t, "sync")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	run := runIDs(t, stdout)["acme"]
	require.NoError(t, b.store.RecordDeadLetter(context.Background(), store.DeadLetter{
		TaskID: tasks.FetchPageID(run, 1), TaskType: tasks.TypeFetchPage, RunID: run, ClientID: "acme",
		Page: 1, Reason: "HTTP 500 from the platform", Payload: []byte(`{}`),
	}))

	code, stdout, stderr = b.run(t, "status")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	require.Regexp(t, `(?m)^CLIENT\s+RUN\s+STATUS\s+PAGES\s+SAVED\s+DEAD\s+SEEN\s+DURATION\s+REASON$`, stdout)
	require.Regexp(t, fmt.Sprintf(`(?m)^acme\s+%d\s+failed\s+0/1\s+0\s+0\s+0\s+\S+\s+page 1: HTTP 500 from the platform$`, run), stdout)

	code, stdout, stderr = b.run(t, "status", strconv.FormatInt(run, 10))
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	require.Contains(t, stdout, "listing: first pass; campaigns marked removed: 0")
	require.Contains(t, stdout, fmt.Sprintf("dead letters of run %d:\n  page 1 (open, task %s): HTTP 500 from the platform\n",
		run, tasks.FetchPageID(run, 1)))
}

// `status` reads PostgreSQL only: it answers while Redis is unreachable.
func TestStatusNeedsNoRedis(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme"}, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"})
	code, stdout, stderr := b.run(t, "status")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	require.Regexp(t, `^CLIENT\s+RUN`, stdout)
}

// With Redis unreachable, `sync` fails with one line on stderr, in the
// chosen log format, that says Redis is not reachable and what to check,
// and never shows the password of REDIS_URL: go-redis's own connection
// pool lines do not come through.
func TestSyncWithRedisDownSaysSoInOneLine(t *testing.T) {
	t.Parallel()
	const redisPassword = "pw-Redis-secret-9f2e"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			b := setup(t, []string{"acme"}, map[string]string{
				"REDIS_URL": "redis://:" + redisPassword + "@127.0.0.1:1/0", "LOG_FORMAT": format,
			})
			code, stdout, stderr := b.run(t, "sync")
			require.Equal(t, enqueuer.ExitFailures, code)
			require.Empty(t, stdout)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			require.Len(t, lines, 1, stderr)
			line := lines[0]
			require.Contains(t, line, "redis (single) at redis://:xxxxx@127.0.0.1:1/0 is not reachable: ")
			require.Contains(t, line, "check REDIS_URL and that Redis is running")
			require.NotContains(t, line, "pool.go")
			require.NotContains(t, line, redisPassword)
			if format == "json" {
				var entry map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &entry), line)
				require.Equal(t, "ERROR", entry["level"])
			} else {
				require.Contains(t, line, "level=ERROR")
			}
		})
	}
}

// `clients` lists every configured client with its latest run, and never
// a password.
func TestClientsListsEachClientsLatestRun(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme", "beta"}, nil)
	code, stdout, stderr := b.run(t, "sync", "--client", "acme")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	run := runIDs(t, stdout)["acme"]

	code, stdout, stderr = b.run(t, "clients")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3, stdout)
	require.Regexp(t, `^CLIENT\s+EMAIL\s+LAST RUN\s+STATUS\s+WHEN\s+SAVED\s+DEAD$`, lines[0])
	require.Regexp(t, fmt.Sprintf(`^acme\s+acme@example\.test\s+%d\s+running\s+\S+Z \(\S+ ago\)\s+0\s+0$`, run), lines[1])
	require.Regexp(t, `^beta\s+beta@example\.test\s+-\s+never synced\s+-\s+-\s+-$`, lines[2])
}

// `resume` puts back the work of running runs that Redis lost, and says
// so when there is no running run.
func TestResumeReenqueuesWorkRedisLost(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme"}, nil)
	code, stdout, stderr := b.run(t, "resume")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	require.Equal(t, "no running runs\n", stdout)

	code, stdout, stderr = b.run(t, "sync")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	run := runIDs(t, stdout)["acme"]
	require.NoError(t, b.rdb.FlushDB(context.Background()).Err())
	require.Empty(t, b.pendingPages(t))

	code, stdout, stderr = b.run(t, "resume")
	require.Equal(t, enqueuer.ExitOK, code, stderr)
	require.Equal(t, fmt.Sprintf("run %d client=acme re-enqueued pages=1 records=0; archived tasks recorded as dead letters=0\n", run), stdout)
	require.Equal(t, []string{tasks.FetchPageID(run, 1)}, b.pendingPages(t))
}

// `schedule` starts runs at once and then every interval, until its
// context ends, when it exits 0.
func TestScheduleStartsRunsUntilStopped(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme"}, nil)
	sched := startSchedule(t, b, "1h")
	testenv.WaitFor(t, 30*time.Second, "the first scheduled run", func() bool {
		runs, err := b.store.RecentRuns(context.Background(), 10)
		require.NoError(t, err)
		return len(runs) == 1 && runs[0].ClientID == "acme"
	})
	sched.stop(t)
	require.Contains(t, sched.stderr.String(), "scheduler stopped")
}

// Bad usage and bad configuration exit 2 with a line that says what is
// wrong; asking for help exits 0.
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme"}, nil)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, enqueuer.ExitUsage, "usage:\n  enqueuer sync"},
		{[]string{"--help"}, enqueuer.ExitOK, "usage:\n  enqueuer sync"},
		{[]string{"sync", "-h"}, enqueuer.ExitOK, "-wait"},
		{[]string{"bogus"}, enqueuer.ExitUsage, `enqueuer: unknown command "bogus"`},
		{[]string{"sync", "extra"}, enqueuer.ExitUsage, "enqueuer sync: unexpected arguments: [extra]"},
		{[]string{"sync", "--bogus"}, enqueuer.ExitUsage, "flag provided but not defined: -bogus"},
		{[]string{"sync", "--client", "nobody"}, enqueuer.ExitUsage, `enqueuer sync: client "nobody" is not configured`},
		{[]string{"status", "x"}, enqueuer.ExitUsage, `enqueuer status: RUN must be a run id, got "x"`},
		{[]string{"status", "1", "2"}, enqueuer.ExitUsage, "enqueuer status: at most one RUN, got [1 2]"},
		{[]string{"schedule"}, enqueuer.ExitUsage, "enqueuer schedule: --every must be a positive duration"},
		{[]string{"clients", "x"}, enqueuer.ExitUsage, "enqueuer clients: unexpected arguments: [x]"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := b.run(t, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Contains(t, stderr, tc.stderr)
		})
	}
	runs, err := b.store.RecentRuns(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, runs, "no command above started a run")
}

// A clients file that cannot be read is bad configuration: exit 2, naming
// the variable.
func TestBrokenClientsFileExitsTwo(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{"acme"}, nil)
	b.cfg.ClientsFile = filepath.Join(t.TempDir(), "missing.json")
	for _, cmd := range []string{"sync", "clients"} {
		code, _, stderr := b.run(t, cmd)
		require.Equal(t, enqueuer.ExitUsage, code, cmd)
		require.Contains(t, stderr, "CLIENTS_FILE: cannot read", cmd)
	}
}

// Help answers without a configuration: the usage for help or no command,
// nothing for a command.
func TestHelpNeedsNoConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		done bool
	}{
		{nil, enqueuer.ExitUsage, true},
		{[]string{"help"}, enqueuer.ExitOK, true},
		{[]string{"-h"}, enqueuer.ExitOK, true},
		{[]string{"--help"}, enqueuer.ExitOK, true},
		{[]string{"sync", "--help"}, 0, false},
		{[]string{"status"}, 0, false},
	} {
		var stderr bytes.Buffer
		code, done := enqueuer.Help(tc.args, &stderr)
		require.Equal(t, tc.done, done, "%v", tc.args)
		require.Equal(t, tc.code, code, "%v", tc.args)
		require.Equal(t, tc.done, strings.Contains(stderr.String(), "usage:"), "%v", tc.args)
	}
}
