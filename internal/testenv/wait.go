package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond until it returns true or timeout passes, then fails the
// test with msg. Tests of asynchronous work wait on the event with it rather
// than sleeping a guessed duration.
func WaitFor(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
