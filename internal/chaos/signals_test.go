//go:build chaos

package chaos

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// signal sends sig to the process.
func (p *proc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t testing.TB) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	p.wait(t, 10*time.Second)
}

// stdout returns what the process has written to stdout so far.
func (p *proc) stdout() string { return readFile(p.stdoutPath) }
