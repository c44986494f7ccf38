package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/logging"
	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/runs"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/testenv"
	"github.com/adsync/adsync/internal/wiring"
	"github.com/adsync/adsync/internal/worker"
)

const (
	email    = "ops@example.test"
	password = "pa55-Distinctive-9f3b" // searched for in every output by the secrecy test
	scale    = 60
)

// bundle is one isolated adsync deployment: a mock platform, a Redis
// database, a PostgreSQL database, and the configuration pointing at them.
type bundle struct {
	mockCfg mock.Config
	mock    *mock.Server
	vars    map[string]string
	cfg     config.Config
	store   *store.Store
	rdb     *redis.Client
	logs    *syncBuffer
}

// mockConfig is the reference platform at time scale 60 with its default
// faults, for one account.
func mockConfig() mock.Config {
	c := mock.DefaultConfig()
	c.TimeScale = scale
	c.Accounts = []mock.Account{{Email: email, Password: password}}
	return c
}

// setup starts a mock with mc and returns a bundle whose configuration has
// the given client ids (all with the good password) plus overrides.
func setup(t *testing.T, mc mock.Config, clientIDs []string, overrides map[string]string) *bundle {
	t.Helper()
	srv, err := mock.NewServer(mc)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })

	b := &bundle{mockCfg: mc, mock: srv, logs: &syncBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker warnings and errors:\n%s", b.logs.lines(`"level":"WARN"`, `"level":"ERROR"`))
		}
	})
	b.vars = map[string]string{
		"REDIS_URL":            testenv.RedisURL(t),
		"DATABASE_URL":         testenv.DatabaseURL(t),
		"PLATFORM_URL":         hs.URL,
		"PLATFORM_RATE_WINDOW": fmt.Sprintf("%dms", 60000/scale),
		"PLATFORM_RATE_MARGIN": "200ms", // generous: parallel tests under the race detector delay requests
		"RATE_WAIT_IN_PLACE":   "100ms",
		"PLATFORM_TIMEOUT":     "400ms",
		"RETRY_BACKOFF_MIN":    "50ms",
		"RETRY_BACKOFF_MAX":    "500ms",
		"TASK_MAX_RETRY":       "8",
		"QUEUE_POLL_INTERVAL":  "20ms",
		"SHUTDOWN_TIMEOUT":     "5s",
		"LOG_LEVEL":            "debug",
		"HTTP_ADDR":            "127.0.0.1:0",
		"CLIENTS_FILE":         writeClients(t, clientIDs),
	}
	for k, v := range overrides {
		b.vars[k] = v
	}
	b.cfg, err = config.LoadFrom(b.vars)
	require.NoError(t, err)
	ctx := context.Background()
	b.store, err = wiring.Store(ctx, b.cfg)
	require.NoError(t, err)
	t.Cleanup(b.store.Close)
	opt, err := redis.ParseURL(b.cfg.RedisURL)
	require.NoError(t, err)
	b.rdb = redis.NewClient(opt)
	t.Cleanup(func() { _ = b.rdb.Close() })
	return b
}

// writeClients writes a CLIENTS_FILE naming the password through a
// variable, as an operator would (TestMain sets it).
func writeClients(t *testing.T, ids []string) string {
	t.Helper()
	var entries []string
	for _, id := range ids {
		entries = append(entries, fmt.Sprintf(`{"id":%q,"email":%q,"password_env":"E2E_PLATFORM_PASSWORD"}`, id, email))
	}
	path := t.TempDir() + "/clients.json"
	require.NoError(t, os.WriteFile(path, []byte("["+strings.Join(entries, ",")+"]"), 0o600))
	return path
}

// startWorker runs one worker process's worth of adsync in this process
// until the test ends.
func (b *bundle) startWorker(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := logging.New(b.logs, "debug", "json")
	go func() { done <- worker.Run(ctx, b.cfg, log) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Error("worker did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// starter returns a run starter on the bundle's Redis and database.
func (b *bundle) starter(t *testing.T) *runs.Starter {
	t.Helper()
	aq := asynq.NewClientFromRedisClient(b.rdb)
	q := wiring.Queue(aq, b.cfg)
	fo, err := wiring.FanOut(b.rdb, b.cfg, q)
	require.NoError(t, err)
	return runs.NewStarter(b.store, q, b.rdb, b.cfg.PageSize, fo, slog.New(slog.NewJSONHandler(b.logs, nil)))
}

// sync starts one run per client and waits until all have ended.
func (b *bundle) sync(t *testing.T, clientIDs ...string) []store.Run {
	t.Helper()
	started, err := b.starter(t).Start(context.Background(), clientIDs)
	require.NoError(t, err)
	ids := make([]int64, len(started))
	for i, s := range started {
		require.False(t, s.Skipped, "client %s already had a run", s.ClientID)
		ids[i] = s.RunID
	}
	return b.waitRuns(t, ids, 3*time.Minute)
}

// waitRuns waits until every run has ended and returns their final state.
func (b *bundle) waitRuns(t *testing.T, ids []int64, timeout time.Duration) []store.Run {
	t.Helper()
	var runs []store.Run
	testenv.WaitFor(t, timeout, fmt.Sprintf("runs %v to end", ids), func() bool {
		var err error
		runs, err = b.store.Runs(context.Background(), ids)
		require.NoError(t, err)
		for _, r := range runs {
			if !r.Finished() {
				return false
			}
		}
		return len(runs) == len(ids)
	})
	return runs
}

// requireGroundTruth checks that the client's stored campaigns are exactly
// the mock's valid campaigns, value for value.
func (b *bundle) requireGroundTruth(t *testing.T, clientID string) {
	t.Helper()
	want := map[string]mock.Campaign{}
	for _, c := range mockCatalogue(b, clientID) {
		if c.Poison == "" {
			want[c.ID] = c
		}
	}
	got, err := b.store.Campaigns(context.Background(), clientID)
	require.NoError(t, err)
	require.Len(t, got, len(want), "client %s: stored rows", clientID)
	for _, g := range got {
		w, ok := want[g.ID]
		require.True(t, ok, "client %s: unexpected campaign %s", clientID, g.ID)
		require.Equal(t, w.Name, g.Name, "name of %s", g.ID)
		require.Equal(t, w.Status, g.Status, "status of %s", g.ID)
		require.Equal(t, w.Impressions, g.Impressions, "impressions of %s", g.ID)
		require.Equal(t, w.Clicks, g.Clicks, "clicks of %s", g.ID)
		require.Equal(t, w.Conversions, g.Conversions, "conversions of %s", g.ID)
		require.True(t, w.CreatedAt.Equal(g.CreatedAt), "created_at of %s: %s vs %s", g.ID, w.CreatedAt, g.CreatedAt)
		require.Equal(t, fmt.Sprint(w.Budget), trimZeros(g.Budget), "budget of %s", g.ID)
	}
}

// trimZeros writes a numeric's text the way Go prints the float.
func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct{ testenv.LogBuffer }

// lines returns the lines holding any of the given texts.
func (s *syncBuffer) lines(texts ...string) string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		for _, x := range texts {
			if strings.Contains(l, x) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// mockCatalogue is the mock's ground truth for a client as it is now.
func mockCatalogue(b *bundle, clientID string) []mock.Campaign {
	return mock.Catalogue(b.mockCfg, clientID, b.mock.CatalogueSize(clientID))
}

func TestMain(m *testing.M) {
	// Every bundle's clients file reads its password from this variable;
	// set once here because parallel tests may not call t.Setenv.
	if err := os.Setenv("E2E_PLATFORM_PASSWORD", password); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
