package platform

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind, such as a
// token fetch or a connection that outlived its request.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
