package chaos

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one child process of a test, with its standard output and error
// in files of the test's directory. It is killed at cleanup if it still
// runs, and dies with the test binary (Pdeathsig) if that crashes.
type proc struct {
	name       string
	cmd        *exec.Cmd
	stdoutPath string
	stderrPath string
	done       chan struct{}

	mu       sync.Mutex
	exitCode int
	waitErr  error
}

// startProc starts bin with exactly the given environment (plus PATH, so
// nothing of the developer's own adsync variables leaks in) and args.
func startProc(t testing.TB, dir, name, bin string, env map[string]string, args ...string) *proc {
	t.Helper()
	return startProcAs(t, dir, name, bin, nil, env, args...)
}

// startProcAs is startProc running the process as another user when cred
// is not nil (PostgreSQL refuses to run as root).
func startProcAs(t testing.TB, dir, name, bin string, cred *syscall.Credential, env map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{
		name:       name,
		stdoutPath: filepath.Join(dir, name+".stdout"),
		stderrPath: filepath.Join(dir, name+".stderr"),
		done:       make(chan struct{}),
		exitCode:   -1,
	}
	stdout, err := os.OpenFile(p.stdoutPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	stderr, err := os.OpenFile(p.stderrPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = environ(env)
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := p.cmd.Start(); err != nil {
		_ = stdout.Close()
		_ = stderr.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := p.cmd.Wait()
		_ = stdout.Close()
		_ = stderr.Close()
		p.mu.Lock()
		p.waitErr = err
		p.exitCode = p.cmd.ProcessState.ExitCode()
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s (pid %d) did not die after SIGKILL", name, p.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("--- last lines of %s's stderr:\n%s", name, tail(p.stderr(), 25))
		}
	})
	return p
}

// environ turns vars into an environment list, sorted for stable output.
func environ(vars map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out[1:])
	return out
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to end and returns its exit
// code (-1 when it was killed by a signal).
func (p *proc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s (pid %d) still running after %s", p.name, p.pid(), timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode
}

// stderr returns what the process has written to stderr so far.
func (p *proc) stderr() string { return readFile(p.stderrPath) }

func readFile(path string) string {
	b, _ := os.ReadFile(path) // #nosec G304 -- a path the test itself created
	return string(b)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
