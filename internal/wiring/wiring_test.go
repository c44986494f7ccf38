package wiring_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/pipeline"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
	"github.com/adsync/adsync/internal/wiring"
)

// loadConfig is the configuration with its defaults, over the test's own
// Redis database and PostgreSQL database, plus overrides.
func loadConfig(t *testing.T, overrides map[string]string) config.Config {
	t.Helper()
	vars := map[string]string{
		"REDIS_URL":         testenv.RedisURL(t),
		"DATABASE_URL":      testenv.DatabaseURL(t),
		"PLATFORM_EMAIL":    "admin@mixoads.com",
		"PLATFORM_PASSWORD": "SuperSecret123!",
	}
	for k, v := range overrides {
		vars[k] = v
	}
	cfg, err := config.LoadFrom(vars)
	require.NoError(t, err)
	return cfg
}

// aclUser creates a Redis ACL user for the test's lifetime and returns its
// name and password.
func aclUser(t *testing.T) (name, password string) {
	t.Helper()
	admin := testenv.Redis(t)
	name = fmt.Sprintf("adsync-test-%d", time.Now().UnixNano())
	password = "acl-secret-" + name
	require.NoError(t, admin.Do(t.Context(), "ACL", "SETUSER", name, "on", ">"+password, "~*", "&*", "+@all").Err())
	t.Cleanup(func() { _ = admin.Do(context.Background(), "ACL", "DELUSER", name).Err() })
	return name, password
}

func redisURL(t *testing.T, user *url.Userinfo) string {
	t.Helper()
	u := url.URL{Scheme: "redis", User: user, Host: testenv.RedisAddr(), Path: fmt.Sprint("/", testenv.RedisDB(t))}
	return u.String()
}

func TestRedisLogsInAsTheACLUserOfTheURL(t *testing.T) {
	name, password := aclUser(t)
	cfg := config.Config{RedisURL: redisURL(t, url.UserPassword(name, password))}

	opt, rdb, err := wiring.Redis(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	who, err := rdb.Do(t.Context(), "ACL", "WHOAMI").Text()
	require.NoError(t, err)
	require.Equal(t, name, who, "the go-redis client")

	// asynq's own connections (asynqmon's among them) are made from opt.
	client := asynq.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	_, err = client.Enqueue(asynq.NewTask("acl-check", nil))
	require.NoError(t, err, "asynq connecting with the URL's user")
}

func TestRedisRefusesAWrongPasswordWithoutShowingIt(t *testing.T) {
	name, _ := aclUser(t)
	cfg := config.Config{RedisURL: redisURL(t, url.UserPassword(name, "not-the-password"))}

	_, _, err := wiring.Redis(t.Context(), cfg)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "not-the-password")
}

// A REDIS_URL that is not one says so, naming the variable, before any
// connection is tried.
func TestRedisRejectsABadURL(t *testing.T) {
	_, _, err := wiring.Redis(t.Context(), config.Config{RedisURL: "http://127.0.0.1:6379/0"})
	require.ErrorContains(t, err, `REDIS_URL: unsupported scheme "http"`)
}

// A Redis that does not answer is named, by its URL with the password
// masked, at start rather than at the first task, in one line that says
// what to check.
func TestRedisThatDoesNotAnswerIsNamedWithoutItsPassword(t *testing.T) {
	_, _, err := wiring.Redis(t.Context(), config.Config{RedisURL: "redis://worker:hunter2@127.0.0.1:1/0"})
	require.ErrorContains(t, err, "redis (single) at redis://worker:xxxxx@127.0.0.1:1/0 is not reachable: ")
	require.True(t, strings.HasSuffix(err.Error(), "; check REDIS_URL and that Redis is running"), err.Error())
	require.NotContains(t, err.Error(), "\n")
	require.NotContains(t, err.Error(), "hunter2")
}

// A PostgreSQL that does not answer gives one line that names it and says
// what to check, without the URL's passwords; the error is still
// store.ErrUnavailable.
func TestStoreThatDoesNotAnswerSaysWhatToCheck(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"DATABASE_URL": "postgres://adsync:hunter2@127.0.0.1:1/adsync?password=hunter3"})
	_, err := wiring.Store(t.Context(), cfg)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.True(t, strings.HasPrefix(err.Error(), "PostgreSQL is not reachable: "), err.Error())
	require.ErrorContains(t, err, "127.0.0.1:1")
	require.True(t, strings.HasSuffix(err.Error(), "; check DATABASE_URL and that PostgreSQL is running"), err.Error())
	require.NotContains(t, err.Error(), "\n")
	require.NotContains(t, err.Error(), "hunter")
}

// Many processes starting at once each bring the schema up to date and get
// a working store.
func TestStoreMigratesAndOpensFromManyProcessesAtOnce(t *testing.T) {
	cfg := loadConfig(t, nil)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			st, err := wiring.Store(t.Context(), cfg)
			if err == nil {
				_, err = st.CreateRun(t.Context(), fmt.Sprint("client-", i))
				st.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// Limiters built from one configuration, as in two worker processes, book
// against one budget per client: PLATFORM_RATE_LIMIT requests per window
// between them, then no budget for either.
func TestLimitersFromOneConfigurationShareTheBudget(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"PLATFORM_RATE_LIMIT": "2", "PLATFORM_RATE_WINDOW": "1h",
		"RATE_WAIT_IN_PLACE": "1s"})
	_, rdb, err := wiring.Redis(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	a, err := wiring.Limiter(rdb, cfg, nil)
	require.NoError(t, err)
	b, err := wiring.Limiter(rdb, cfg, nil)
	require.NoError(t, err)

	require.NoError(t, a.Wait(t.Context(), "acme"))
	require.NoError(t, b.Wait(t.Context(), "acme"))
	var nb *ratelimit.NoBudgetError
	require.ErrorAs(t, a.Wait(t.Context(), "acme"), &nb)
	require.ErrorAs(t, b.Wait(t.Context(), "acme"), &nb)
	require.NoError(t, b.Wait(t.Context(), "other"), "budgets are per client")
}

// The queue and the fan-out carry the task policy and the shared budget:
// a task gets one asynq retry more than TASK_MAX_RETRY (the spare that no
// failure spends) and the policy's timeout, and pages beyond the budget of
// the window wait in the queue for their booked slots a window on.
func TestQueueAndFanOutFollowThePolicyAndTheBudget(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, map[string]string{"TASK_MAX_RETRY": "4", "SYNC_CALL": "false"})
	_, rdb, err := wiring.Redis(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	aq := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = aq.Close() })
	fo, err := wiring.FanOut(rdb, cfg, wiring.Queue(aq, cfg))
	require.NoError(t, err)

	pages := make([]int, cfg.RateLimit+2)
	for i := range pages {
		pages[i] = i + 2
	}
	require.NoError(t, fo.Enqueue(t.Context(), fanout.Work{RunID: 1, ClientID: "acme", PageSize: cfg.PageSize, Pages: pages}))
	insp := asynq.NewInspectorFromRedisClient(rdb)
	info, err := insp.GetQueueInfo(tasks.QueuePages)
	require.NoError(t, err)
	require.Equal(t, len(pages), info.Pending+info.Scheduled)
	for i, page := range pages {
		task, err := insp.GetTaskInfo(tasks.QueuePages, tasks.FetchPageID(1, page))
		require.NoError(t, err)
		if i >= cfg.RateLimit {
			require.Greater(t, time.Until(task.NextProcessAt), cfg.RateWindow-5*time.Second,
				"page %d waits for its slot a window on", page)
		} else {
			require.Less(t, time.Until(task.NextProcessAt), 5*time.Second, "page %d goes in the first window", page)
		}
	}
	task, err := insp.GetTaskInfo(tasks.QueuePages, tasks.FetchPageID(1, 2))
	require.NoError(t, err)
	require.Equal(t, 5, task.MaxRetry)
	require.Equal(t, pipeline.NewPolicy(cfg).TaskTimeout(), task.Timeout)
}

// The platform client talks to PLATFORM_URL through the shared limiter and
// retries a transient failure in place, as the task policy says: against a
// platform failing every second list call, two calls succeed in three
// requests.
func TestPlatformRetriesInPlaceByThePolicy(t *testing.T) {
	mc := mock.DefaultConfig()
	mc.TimeScale, mc.FailEvery, mc.HangPercent = 60, 2, 0
	ms, err := mock.NewServer(mc)
	require.NoError(t, err)
	hs := httptest.NewServer(ms)
	t.Cleanup(func() { hs.Close(); ms.Close() })
	cfg := loadConfig(t, map[string]string{"PLATFORM_URL": hs.URL, "RETRY_BACKOFF_MIN": "10ms"})
	_, rdb, err := wiring.Redis(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	lim, err := wiring.Limiter(rdb, cfg, nil)
	require.NoError(t, err)
	account := mc.Accounts[0]
	creds := func(string) (platform.Credentials, bool) {
		return platform.Credentials{Email: account.Email, Password: account.Password}, true
	}
	pc, err := wiring.Platform(cfg, creds, lim, nil, nil)
	require.NoError(t, err)

	for page := 1; page <= 2; page++ {
		_, err := pc.ListCampaigns(t.Context(), "acme", page, 10)
		require.NoError(t, err, "page %d", page)
	}
	require.Equal(t, map[string]int64{"200": 2, "503": 1}, ms.Stats().Clients["acme"].Requests[mock.EndpointList])
}
