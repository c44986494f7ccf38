//go:build chaos

package chaos

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/testenv"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// redisServer is a throwaway redis-server of one test, without
// persistence, that the test kills and restarts empty on the same port.
type redisServer struct {
	t        testing.TB
	dir      string
	port     int
	password string
	tls      *tls.Config // set when the server speaks only TLS
	extra    []string    // further redis-server arguments
	proc     *proc
	starts   int
}

// startRedis starts a redis-server on a free loopback port that requires
// password.
func startRedis(t testing.TB, password string) *redisServer {
	t.Helper()
	r := &redisServer{t: t, dir: t.TempDir(), port: freePort(t), password: password}
	r.start()
	return r
}

// startRedisTLS starts a redis-server that speaks only TLS, with the
// server certificate of ca.
func startRedisTLS(t testing.TB, password string, ca *testCA) *redisServer {
	t.Helper()
	r := &redisServer{t: t, dir: t.TempDir(), port: freePort(t), password: password,
		tls: &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}}
	r.extra = []string{"--tls-port", strconv.Itoa(r.port), "--tls-cert-file", ca.certFile,
		"--tls-key-file", ca.keyFile, "--tls-auth-clients", "no"}
	r.start()
	return r
}

// start (re)starts the server, empty, and waits until it answers.
func (r *redisServer) start() {
	r.t.Helper()
	r.starts++
	port := strconv.Itoa(r.port)
	if r.tls != nil {
		port = "0" // no plain-text port at all
	}
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", r.password, "--dir", r.dir}, r.extra...)
	r.proc = startProc(r.t, r.dir, fmt.Sprintf("redis-%d", r.starts), "redis-server", nil, args...)
	c := redis.NewClient(&redis.Options{Addr: r.addr(), Password: r.password, TLSConfig: r.tls})
	defer c.Close()
	testenv.WaitFor(r.t, 10*time.Second, "redis-server to answer", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

// kill ends the server with SIGKILL: everything it held is gone.
func (r *redisServer) kill() { r.proc.kill(r.t) }

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// url is adsync's REDIS_URL for database 0 of this server.
func (r *redisServer) url() string {
	scheme := "redis"
	if r.tls != nil {
		scheme = "rediss"
	}
	return fmt.Sprintf("%s://:%s@%s/0", scheme, r.password, r.addr())
}

// pgServer is a throwaway PostgreSQL cluster of one test, in a directory
// of its own, on its own port, that the test crashes and restarts.
type pgServer struct {
	t      testing.TB
	base   string // owned by the server's user; holds data/ and the socket
	logs   string
	bin    string
	port   int
	cred   *syscall.Credential
	proc   *proc
	starts int
	extra  []string // further postgres arguments
	query  string   // connection parameters of url
}

// postgresBinDir finds the directory of initdb and postgres: $PG_BINDIR,
// pg_config --bindir, or the newest /usr/lib/postgresql/*/bin.
func postgresBinDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) < pgVersion(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	t.Fatalf("no PostgreSQL server binaries (initdb, postgres) found; set PG_BINDIR")
	return ""
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// startPostgres initialises a cluster with trust authentication and
// starts it on a free loopback port. As root it runs initdb and postgres
// as the postgres user, since PostgreSQL refuses to run as root.
func startPostgres(t testing.TB) *pgServer {
	t.Helper()
	p := initPostgres(t)
	p.start()
	return p
}

// initPostgres initialises the cluster of startPostgres without starting
// it.
func initPostgres(t testing.TB) *pgServer {
	t.Helper()
	p := &pgServer{t: t, bin: postgresBinDir(t), port: freePort(t), logs: t.TempDir(), query: "sslmode=disable"}
	base, err := os.MkdirTemp("", "adsync-chaos-pg-")
	if err != nil {
		t.Fatalf("pg dir: %v", err)
	}
	p.base = base
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(base, int(uid), int(gid)); err != nil {
			t.Fatalf("chown %s: %v", base, err)
		}
	}
	initdb := startProcAs(t, p.logs, "initdb", filepath.Join(p.bin, "initdb"), p.cred, map[string]string{"LC_ALL": "C"},
		"-D", filepath.Join(base, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync")
	if code := initdb.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("initdb exited %d:\n%s", code, initdb.stderr())
	}
	return p
}

// writeOwned writes a file in the cluster's directory, owned by the
// server's user and readable by it alone (PostgreSQL insists on that for a
// private key).
func (p *pgServer) writeOwned(name string, data []byte) string {
	p.t.Helper()
	path := filepath.Join(p.base, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		p.t.Fatalf("write %s: %v", path, err)
	}
	if p.cred != nil {
		if err := os.Chown(path, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			p.t.Fatalf("chown %s: %v", path, err)
		}
	}
	return path
}

// start (re)starts the server and waits until it accepts connections.
func (p *pgServer) start() {
	p.t.Helper()
	p.starts++
	args := append([]string{"-D", filepath.Join(p.base, "data"), "-p", strconv.Itoa(p.port), "-k", p.base,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"}, p.extra...)
	p.proc = startProcAs(p.t, p.logs, fmt.Sprintf("postgres-%d", p.starts), filepath.Join(p.bin, "postgres"), p.cred,
		map[string]string{"LC_ALL": "C"}, args...)
	proc := p.proc
	p.t.Cleanup(func() {
		// Registered after the process's own cleanup, so it runs first:
		// an immediate shutdown that takes the backends along.
		if !proc.exited() {
			_ = proc.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-proc.done:
			case <-time.After(30 * time.Second):
			}
		}
	})
	testenv.WaitFor(p.t, 60*time.Second, "PostgreSQL to accept connections", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, p.url("postgres", ""))
		if err != nil {
			return false
		}
		_ = conn.Close(ctx)
		return true
	})
}

// crash stops the server the hard way (SIGQUIT: immediate shutdown, no
// checkpoint, crash recovery at the next start) and waits until it is gone.
func (p *pgServer) crash() {
	p.t.Helper()
	p.proc.signal(p.t, syscall.SIGQUIT)
	p.proc.wait(p.t, 30*time.Second)
}

// url is a connection URL for database db; password is ignored by trust
// authentication but must never be printed by adsync.
func (p *pgServer) url(db, password string) string {
	auth := "postgres"
	if password != "" {
		auth += ":" + password
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?%s", auth, p.port, db, p.query)
}
