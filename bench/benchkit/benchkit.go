// Package benchkit runs adsync's real binaries for the benchmarks: the mock
// platform and worker processes as subprocesses, a dedicated Redis database
// and PostgreSQL database wiped before each pass, and the wait for runs to
// end. Benchmarks measure the system as an operator runs it, not a
// simulation of it.
package benchkit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/store"
)

// Env is the environment of one benchmark pass: where Redis and PostgreSQL
// are, and the variables every adsync process gets.
type Env struct {
	RedisURL    string
	DatabaseURL string
	Vars        map[string]string
	Dir         string
}

// Fresh wipes Redis database redisDB and recreates the bench's PostgreSQL
// database, adsync_bench_<bench>_<redisDB>, and returns an Env pointing at
// them. redisDB is leased (testenv.LeaseRedisDB), so the name it lends the
// database keeps two benches running at once from dropping each other's.
func Fresh(ctx context.Context, redisDB int, bench string) (*Env, error) {
	dbName := fmt.Sprintf("adsync_bench_%s_%d", bench, redisDB)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: redisDB})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return nil, fmt.Errorf("flush Redis DB %d: %w", redisDB, err)
	}
	admin, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		return nil, fmt.Errorf("connect PostgreSQL: %w", err)
	}
	defer admin.Close(ctx)
	for _, sql := range []string{"DROP DATABASE IF EXISTS %s WITH (FORCE)", "CREATE DATABASE %s"} {
		if _, err := admin.Exec(ctx, fmt.Sprintf(sql, pgx.Identifier{dbName}.Sanitize())); err != nil {
			return nil, fmt.Errorf("recreate database %s: %w", dbName, err)
		}
	}
	dir, err := os.MkdirTemp("", "adsync-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{
		RedisURL:    fmt.Sprintf("redis://127.0.0.1:6379/%d", redisDB),
		DatabaseURL: fmt.Sprintf("postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", dbName),
		Dir:         dir,
	}
	e.Vars = map[string]string{"REDIS_URL": e.RedisURL, "DATABASE_URL": e.DatabaseURL, "LOG_LEVEL": cmp.Or(os.Getenv("BENCH_LOG_LEVEL"), "warn")}
	return e, nil
}

// WriteClients writes a CLIENTS_FILE of n clients named client-001... that
// all log in with the mock's reference account, and sets CLIENTS_FILE.
func (e *Env) WriteClients(n int) ([]string, error) {
	ids := make([]string, n)
	entries := make([]map[string]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%03d", i+1)
		entries[i] = map[string]string{"id": ids[i], "email": "admin@mixoads.com", "password_env": "BENCH_PLATFORM_PASSWORD"}
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(e.Dir, "clients.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	e.Vars["CLIENTS_FILE"] = path
	e.Vars["BENCH_PLATFORM_PASSWORD"] = "SuperSecret123!"
	return ids, nil
}

// Process is a running subprocess.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error
}

// Start runs bin/<name> with the Env's variables plus extra, its stderr to
// a log file in the Env's folder.
func (e *Env) Start(name string, extra map[string]string, args ...string) (*Process, error) {
	cmd := exec.Command(filepath.Join("bin", name), args...) // #nosec G204 -- the project's own binaries in bin/, named by the bench itself
	cmd.Env = os.Environ()
	for k, v := range e.Vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logf, err := os.Create(filepath.Join(e.Dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano())))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (run make build first)", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); _ = logf.Close(); close(p.done) }()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits up to 30 s, then kills.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// MaxRSSMB is the process's peak resident set size so far, in MiB.
func (p *Process) MaxRSSMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb float64
			_, _ = fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// FreeAddr returns a free loopback address for a server to listen on.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitHTTP waits until url answers 200.
func WaitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url) // #nosec G107 -- a loopback URL built by the benchmark
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", url, timeout)
}

// MockStats reads the mock's statistics.
func MockStats(baseURL string) (mock.Stats, error) {
	var st mock.Stats
	resp, err := http.Get(baseURL + "/__mock/stats") // #nosec G107 -- a loopback URL built by the benchmark
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// WaitRuns polls the ledger until every run has ended, and returns them.
func WaitRuns(ctx context.Context, st *store.Store, timeout time.Duration) ([]store.Run, error) {
	deadline := time.Now().Add(timeout)
	for {
		runs, err := st.RecentRuns(ctx, 100000)
		if err != nil {
			return nil, err
		}
		finished := 0
		for _, r := range runs {
			if r.Finished() {
				finished++
			}
		}
		if len(runs) > 0 && finished == len(runs) {
			return runs, nil
		}
		if time.Now().After(deadline) {
			return runs, fmt.Errorf("%d of %d runs ended within %s", finished, len(runs), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Wait waits for the process to exit on its own and returns its error.
func (p *Process) Wait() error { <-p.done; return p.err }
