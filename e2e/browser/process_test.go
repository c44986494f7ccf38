//go:build browser

package browser

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/testenv"
)

// repoRoot is the module root, seen from this package's directory.
const repoRoot = "../.."

// buildBinaries builds cmd/worker, cmd/enqueuer and cmd/mockapi the way the
// Dockerfile does, into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-o", dir+"/", "./cmd/...")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return dir
}

// process is one adsync binary running for the test; its stderr (JSON log
// lines) goes to a file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// start runs bin with exactly env (plus PATH and HOME), logging to a file
// that the test prints when it fails; the process is stopped at cleanup.
func start(t *testing.T, bin string, env map[string]string, args ...string) *process {
	t.Helper()
	p := &process{name: filepath.Base(bin), log: filepath.Join(t.TempDir(), filepath.Base(bin)+".log")}
	f, err := os.Create(p.log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = environ(env)
	p.cmd.Stderr = f
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s log:\n%s", p.name, tail(string(b), 60))
		}
	})
	return p
}

// listenAddr waits for the process's JSON log line whose msg is msg and
// returns its addr attribute.
func (p *process) listenAddr(t *testing.T, msg string) string {
	t.Helper()
	var addr string
	testenv.WaitFor(t, 30*time.Second, p.name+": "+msg, func() bool {
		b, err := os.ReadFile(p.log)
		require.NoError(t, err)
		var ok bool
		addr, ok = opstest.LogAddr(string(b), msg)
		return ok
	})
	return addr
}

// stop sends SIGTERM and requires a clean exit within timeout.
func (p *process) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "%s exit", p.name)
	case <-time.After(timeout):
		t.Fatalf("%s did not stop within %s of SIGTERM", p.name, timeout)
	}
}

// run runs bin to completion (bounded by timeout) and returns its stdout
// and exit code.
func run(t *testing.T, timeout time.Duration, bin string, env map[string]string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = environ(env)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s:\n%s\n%s", bin, timeout, out, tail(stderr.String(), 40))
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func environ(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
