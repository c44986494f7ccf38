//go:build chaos

package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// Distinctive secrets, searched for in every output of every process.
const (
	platformEmail    = "chaos@example.test"
	platformPassword = "Chaos-Pa55-Distinctive-4d2a"
	dbPassword       = "Chaos-DbPa55-81f0" // trust authentication ignores it
	redisPassword    = "Chaos-RedisPa55-5e07"
	monitorPassword  = "Chaos-MonPa55-3b9c"
)

const (
	scale     = 60  // time scale of the mock and of adsync's durations
	campaigns = 100 // per client, the reference platform's catalogue
	seed      = 7   // MOCK_SEED: the ground truth depends on it
)

// deployOptions shape one deployment.
type deployOptions struct {
	// clients is how many client accounts to sync.
	clients int
	// redisURL and databaseURL point at a server of the test's own; empty
	// means a leased database of the machine's Redis and a fresh database
	// of the machine's PostgreSQL.
	redisURL, databaseURL string
	// env overrides adsync variables.
	env map[string]string
}

// deployment is one adsync installation made of real processes: the mock
// platform, any number of workers, and enqueuer commands.
type deployment struct {
	t         *testing.T
	dir       string
	clientIDs []string
	mockCfg   mock.Config // the parts the ground truth depends on
	mockURL   string
	env       map[string]string
	secrets   []string
	procs     []*proc // adsync's and the mock's, whose output is searched for secrets
	st        *store.Store
	workers   int
	enqueuers int
}

// deploy starts the mock platform at time scale 60 with its default faults
// (a 503 on every 5th list call, 10% of requests unanswered) and prepares
// adsync's environment with the durations scaled like scripts/demo.sh.
func deploy(t *testing.T, o deployOptions) *deployment {
	t.Helper()
	d := &deployment{t: t, dir: t.TempDir(), mockCfg: mock.Config{Seed: seed}}
	for i := 1; i <= o.clients; i++ {
		d.clientIDs = append(d.clientIDs, fmt.Sprintf("client-%02d", i))
	}
	d.startMock()

	redisURL, databaseURL := o.redisURL, o.databaseURL
	if redisURL == "" {
		redisURL = testenv.RedisURL(t)
	}
	if databaseURL == "" {
		databaseURL = strings.Replace(testenv.DatabaseURL(t), "postgres@", "postgres:"+dbPassword+"@", 1)
	}
	d.secrets = []string{platformPassword, dbPassword, monitorPassword, redisPassword,
		base64.StdEncoding.EncodeToString([]byte(platformEmail + ":" + platformPassword)), "Bearer "}
	d.env = map[string]string{
		"REDIS_URL":               redisURL,
		"DATABASE_URL":            databaseURL,
		"PLATFORM_URL":            d.mockURL,
		"CLIENTS_FILE":            d.writeClients(),
		"CHAOS_PLATFORM_PASSWORD": platformPassword,
		"PLATFORM_RATE_WINDOW":    fmt.Sprintf("%dms", 60000/scale),
		"PLATFORM_TIMEOUT":        "400ms",
		"PLATFORM_RATE_MARGIN":    "25ms",
		"RATE_WAIT_IN_PLACE":      "1s",
		"RETRY_BACKOFF_MIN":       "50ms",
		"RETRY_BACKOFF_MAX":       "1s",
		"TASK_MAX_RETRY":          "10",
		"QUEUE_POLL_INTERVAL":     "20ms",
		"SHUTDOWN_TIMEOUT":        "5s",
		"HTTP_ADDR":               "127.0.0.1:0",
		"ASYNQMON_USER":           "ops",
		"ASYNQMON_PASSWORD":       monitorPassword,
		"LOG_LEVEL":               "debug",
		"LOG_FORMAT":              "json",
	}
	for k, v := range o.env {
		d.env[k] = v
	}
	t.Cleanup(func() {
		if d.st != nil {
			d.st.Close()
		}
	})
	return d
}

// writeClients writes CLIENTS_FILE, naming the password through a
// variable as an operator would.
func (d *deployment) writeClients() string {
	var entries []string
	for _, id := range d.clientIDs {
		entries = append(entries, fmt.Sprintf(`{"id":%q,"email":%q,"password_env":"CHAOS_PLATFORM_PASSWORD"}`, id, platformEmail))
	}
	path := filepath.Join(d.dir, "clients.json")
	require.NoError(d.t, os.WriteFile(path, []byte("["+strings.Join(entries, ",")+"]"), 0o600))
	return path
}

// startMock runs bin/mockapi on a free loopback port and reads the port
// from its start-up log line.
func (d *deployment) startMock() {
	p := startProc(d.t, d.dir, "mockapi", binary("mockapi"), map[string]string{
		"MOCK_ADDR":       "127.0.0.1:0",
		"MOCK_TIME_SCALE": strconv.Itoa(scale),
		"MOCK_CAMPAIGNS":  strconv.Itoa(campaigns),
		"MOCK_SEED":       strconv.Itoa(seed),
		"MOCK_ACCOUNTS":   platformEmail + ":" + platformPassword,
		"LOG_FORMAT":      "json",
	})
	d.procs = append(d.procs, p)
	d.mockURL = "http://" + waitLogField(d.t, p, "mockapi listening", "addr")
}

// waitLogField waits for a JSON log line with msg and returns its field.
func waitLogField(t testing.TB, p *proc, msg, field string) string {
	t.Helper()
	var value string
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%s to log %q", p.name, msg), func() bool {
		require.False(t, p.exited(), "%s exited:\n%s", p.name, tail(p.stderr(), 20))
		for _, line := range strings.Split(p.stderr(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				value, _ = rec[field].(string)
				return true
			}
		}
		return false
	})
	return value
}

// worker is one bin/worker process.
type worker struct {
	*proc
	opsAddr string
}

// startWorker starts a worker process and waits until it takes tasks.
func (d *deployment) startWorker() *worker {
	d.t.Helper()
	d.workers++
	p := startProc(d.t, d.dir, fmt.Sprintf("worker-%d", d.workers), binary("worker"), d.env)
	d.procs = append(d.procs, p)
	w := &worker{proc: p, opsAddr: waitLogField(d.t, p, "ops server listening", "addr")}
	waitLogField(d.t, p, "worker started", "msg")
	if d.st == nil {
		st, err := store.Open(context.Background(), d.env["DATABASE_URL"])
		require.NoError(d.t, err)
		d.st = st
	}
	return w
}

// stop sends SIGTERM and requires a clean exit within SHUTDOWN_TIMEOUT and
// a margin; it returns how long the worker took to stop.
func (w *worker) stop(t testing.TB) time.Duration {
	t.Helper()
	start := time.Now()
	w.signal(t, syscall.SIGTERM)
	code := w.wait(t, 15*time.Second)
	require.Equal(t, 0, code, "%s exit status after SIGTERM:\n%s", w.name, tail(w.stderr(), 20))
	return time.Since(start)
}

// enqueuer starts `enqueuer args...`.
func (d *deployment) enqueuer(args ...string) *proc {
	d.t.Helper()
	d.enqueuers++
	p := startProc(d.t, d.dir, fmt.Sprintf("enqueuer-%d-%s", d.enqueuers, args[0]), binary("enqueuer"), d.env, args...)
	d.procs = append(d.procs, p)
	return p
}

// runEnqueuer runs `enqueuer args...` to its end and requires exit 0.
func (d *deployment) runEnqueuer(args ...string) string {
	d.t.Helper()
	p := d.enqueuer(args...)
	code := p.wait(d.t, 2*time.Minute)
	require.Equal(d.t, 0, code, "enqueuer %v:\n%s\n%s", args, p.stdout(), tail(p.stderr(), 20))
	return p.stdout()
}

var runLine = regexp.MustCompile(`(?m)^run (\d+) client=(\S+)`)

// runIDs reads the "run N client=X" lines of `enqueuer sync`, waiting for
// one per client.
func (d *deployment) runIDs(p *proc) []int64 {
	d.t.Helper()
	var ids []int64
	testenv.WaitFor(d.t, 60*time.Second, "enqueuer to print its runs", func() bool {
		ids = ids[:0]
		for _, m := range runLine.FindAllStringSubmatch(p.stdout(), -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			ids = append(ids, id)
		}
		if len(ids) < len(d.clientIDs) && p.exited() {
			require.Failf(d.t, "enqueuer exited early", "%s\n%s", p.stdout(), tail(p.stderr(), 20))
		}
		return len(ids) == len(d.clientIDs)
	})
	return ids
}

// startRuns runs `enqueuer sync` and returns the runs it started.
func (d *deployment) startRuns() []int64 {
	d.t.Helper()
	return d.runIDs(d.enqueuer("sync"))
}

// saved is the number of campaigns the runs have saved so far, or -1 when
// the database does not answer (it may be down on purpose).
func (d *deployment) saved(ids []int64) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	runs, err := d.st.Runs(ctx, ids)
	if err != nil {
		return -1
	}
	n := 0
	for _, r := range runs {
		n += r.CampaignsSaved
	}
	return n
}

// waitSaved waits until the runs have saved at least n campaigns.
func (d *deployment) waitSaved(ids []int64, n int, timeout time.Duration) {
	d.t.Helper()
	testenv.WaitFor(d.t, timeout, fmt.Sprintf("%d campaigns saved", n), func() bool { return d.saved(ids) >= n })
}

// waitRuns waits until every run has ended and returns them.
func (d *deployment) waitRuns(ids []int64, timeout time.Duration) []store.Run {
	d.t.Helper()
	var runs []store.Run
	testenv.WaitFor(d.t, timeout, fmt.Sprintf("runs %v to end", ids), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		if runs, err = d.st.Runs(ctx, ids); err != nil {
			return false
		}
		for _, r := range runs {
			if !r.Finished() {
				return false
			}
		}
		return len(runs) == len(ids)
	})
	return runs
}

// outcome is the verdict on one deployment's data.
type outcome struct {
	stored, lost, duplicated, wrong int
	// reexecuted is how many sync calls were answered 200 beyond one per
	// campaign: work done again under at-least-once delivery, harmless
	// because the writes are idempotent.
	reexecuted int64
}

// verify checks the final table against the mock's ground truth: for every
// client exactly its campaigns, once each, value for value; every run done
// with exact counters and no dead letter. It logs and returns the counts.
func (d *deployment) verify(runs []store.Run) outcome {
	d.t.Helper()
	ctx := context.Background()
	var o outcome
	byClient := map[string]store.Run{}
	for _, r := range runs {
		byClient[r.ClientID] = r
	}
	for _, id := range d.clientIDs {
		want := map[string]mock.Campaign{}
		for _, c := range mock.Catalogue(d.mockCfg, id, campaigns) {
			want[c.ID] = c
		}
		got, err := d.st.Campaigns(ctx, id)
		require.NoError(d.t, err)
		seen := map[string]bool{}
		for _, g := range got {
			o.stored++
			if seen[g.ID] {
				o.duplicated++
				continue
			}
			seen[g.ID] = true
			w, ok := want[g.ID]
			if !ok || !sameCampaign(w, g) {
				o.wrong++
				d.t.Errorf("client %s: campaign %s differs from the platform's: got %+v, want %+v", id, g.ID, g, w)
			}
		}
		for cid := range want {
			if !seen[cid] {
				o.lost++
				d.t.Errorf("client %s: campaign %s lost", id, cid)
			}
		}
		r, ok := byClient[id]
		require.True(d.t, ok, "no run of client %s", id)
		require.Equal(d.t, store.StatusDone, r.Status, "run %d of %s: %s", r.ID, id, r.Reason)
		require.Equal(d.t, campaigns, r.CampaignsSaved, "run %d of %s: campaigns_saved", r.ID, id)
		require.Equal(d.t, campaigns, r.CampaignsSeen, "run %d of %s: campaigns_seen", r.ID, id)
		require.Zero(d.t, r.CampaignsDead, "run %d of %s: campaigns_dead", r.ID, id)
		dead, err := d.st.DeadLetters(ctx, r.ID)
		require.NoError(d.t, err)
		require.Empty(d.t, dead, "dead letters of run %d", r.ID)
	}
	o.duplicated += d.duplicateRows()
	for _, id := range d.clientIDs {
		if n := d.mockStats().Clients[id].Requests[mock.EndpointSync]["200"]; n > campaigns {
			o.reexecuted += n - campaigns
		}
	}
	d.t.Logf("RESULT clients=%d stored=%d lost=%d duplicated=%d wrong=%d sync_calls_repeated=%d",
		len(d.clientIDs), o.stored, o.lost, o.duplicated, o.wrong, o.reexecuted)
	require.Equal(d.t, len(d.clientIDs)*campaigns, o.stored, "stored rows")
	require.Zero(d.t, o.lost, "lost campaigns")
	require.Zero(d.t, o.duplicated, "duplicated campaigns")
	require.Zero(d.t, o.wrong, "campaigns with wrong values")
	return o
}

// duplicateRows counts rows beyond one per (client_id, id), asked of
// PostgreSQL itself rather than through the store.
func (d *deployment) duplicateRows() int {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.env["DATABASE_URL"])
	require.NoError(d.t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(d.t, conn.QueryRow(ctx,
		`SELECT count(*) - count(DISTINCT (client_id, id)) FROM campaigns`).Scan(&n))
	return n
}

// sameCampaign compares a stored row with the platform's campaign.
func sameCampaign(w mock.Campaign, g store.StoredCampaign) bool {
	budget := g.Budget
	if strings.Contains(budget, ".") {
		budget = strings.TrimRight(strings.TrimRight(budget, "0"), ".")
	}
	return w.Name == g.Name && w.Status == g.Status && w.Impressions == g.Impressions &&
		w.Clicks == g.Clicks && w.Conversions == g.Conversions && w.CreatedAt.Equal(g.CreatedAt) &&
		fmt.Sprint(w.Budget) == budget
}

// setFaults replaces the mock's faults through POST /__mock/faults.
func (d *deployment) setFaults(f mock.Faults) {
	d.t.Helper()
	body, err := json.Marshal(f)
	require.NoError(d.t, err)
	resp, err := http.Post(d.mockURL+"/__mock/faults", "application/json", bytes.NewReader(body))
	require.NoError(d.t, err)
	defer resp.Body.Close()
	require.Equal(d.t, http.StatusOK, resp.StatusCode)
}

// defaultFaults are the mock's faults at start.
var defaultFaults = mock.Faults{HangPercent: 10, FailEvery: 5}

// mockStats reads GET /__mock/stats.
func (d *deployment) mockStats() mock.Stats {
	d.t.Helper()
	resp, err := http.Get(d.mockURL + "/__mock/stats")
	require.NoError(d.t, err)
	defer resp.Body.Close()
	var s mock.Stats
	require.NoError(d.t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// requireNoSecrets searches every process's output, and the ops server of
// w (metrics and asynqmon's API, which shows task payloads and errors), for
// the passwords, the Basic-auth value and any bearer token.
func (d *deployment) requireNoSecrets(w *worker) {
	d.t.Helper()
	var all strings.Builder
	for _, p := range d.procs {
		all.WriteString(p.stdout())
		all.WriteString(p.stderr())
	}
	logs := all.String()
	require.Contains(d.t, logs, "campaign saved", "the workers' debug logs should be searched")
	for _, s := range d.secrets {
		require.NotContains(d.t, logs, s, "process output")
	}
	if w != nil {
		ops := d.scrapeOps(w)
		for _, s := range d.secrets {
			require.NotContains(d.t, ops, s, "ops server")
		}
	}
}

// scrapeOps reads /metrics and asynqmon's API of a worker.
func (d *deployment) scrapeOps(w *worker) string {
	d.t.Helper()
	base := "http://" + w.opsAddr
	get := func(path string, auth bool) (int, string) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(d.t, err)
		if auth {
			req.SetBasicAuth("ops", monitorPassword)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(d.t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(d.t, err)
		return resp.StatusCode, string(b)
	}
	var sb strings.Builder
	code, body := get("/metrics", false)
	require.Equal(d.t, http.StatusOK, code)
	require.Contains(d.t, body, "adsync_")
	sb.WriteString(body)
	code, _ = get("/monitoring/api/queues", false)
	require.Equal(d.t, http.StatusUnauthorized, code, "asynqmon without credentials")
	code, body = get("/monitoring/api/queues", true)
	require.Equal(d.t, http.StatusOK, code, "GET /monitoring/api/queues: %s", body)
	sb.WriteString(body)
	// A queue exists in Redis only once a task was put in it: after Redis
	// restarted empty, a run whose pages were all fetched has no pages
	// queue, and asynqmon answers 500 for it.
	var listed struct {
		Queues []struct {
			Queue string `json:"queue"`
		} `json:"queues"`
	}
	require.NoError(d.t, json.Unmarshal([]byte(body), &listed))
	paths := []string{"/monitoring/api/servers"}
	for _, lq := range listed.Queues {
		q := lq.Queue
		for _, state := range []string{"active", "pending", "scheduled", "retry", "archived", "completed"} {
			paths = append(paths, fmt.Sprintf("/monitoring/api/queues/%s/%s_tasks?page=1&size=100", q, state))
		}
	}
	for _, p := range paths {
		code, body := get(p, true)
		require.Equal(d.t, http.StatusOK, code, "GET %s: %s", p, body)
		sb.WriteString(body)
	}
	return sb.String()
}

// activeTasks lists the ids of the tasks asynq holds as running.
func activeTasks(insp *asynq.Inspector) (map[string]bool, error) {
	out := map[string]bool{}
	for _, q := range tasks.Queues {
		list, err := insp.ListActiveTasks(q, asynq.PageSize(10000))
		if err != nil {
			return nil, err
		}
		for _, ti := range list {
			out[ti.ID] = true
		}
	}
	return out, nil
}

// inspector opens asynq's inspector on the deployment's Redis.
func (d *deployment) inspector() *asynq.Inspector {
	d.t.Helper()
	opt, err := redis.ParseURL(d.env["REDIS_URL"])
	require.NoError(d.t, err)
	rdb := redis.NewClient(opt)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	d.t.Cleanup(func() { _ = rdb.Close() })
	return insp
}

// countLines counts the JSON log lines of p with msg after the first line
// with after (all lines when after is "").
func countLines(p *proc, after, msg string) int {
	sc := bufio.NewScanner(strings.NewReader(p.stderr()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	started, n := after == "", 0
	for sc.Scan() {
		var rec struct{ Msg string }
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch {
		case !started && rec.Msg == after:
			started = true
		case started && rec.Msg == msg:
			n++
		}
	}
	return n
}

// retryBudget is the shortest time a task can keep failing before it is
// dead-lettered: the sum of its backoffs at the lowest jitter (half), as
// pipeline.Policy.RetryDelay computes them, not counting the attempts themselves.
func retryBudget(maxRetry int, lo, hi time.Duration) time.Duration {
	var total time.Duration
	for n := 0; n < maxRetry; n++ {
		d := hi
		if n < 62 && lo<<n > 0 && lo<<n < hi {
			d = lo << n
		}
		total += d / 2
	}
	return total
}

// durations summarises a list of durations: how many, and their minimum,
// median and maximum, rounded to 100 ms.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	return fmt.Sprintf("n=%d min=%s median=%s max=%s", len(sorted), r(sorted[0]), r(sorted[len(sorted)/2]), r(sorted[len(sorted)-1]))
}
