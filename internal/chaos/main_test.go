package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds bin/worker, bin/enqueuer and bin/mockapi for the tests.
var binDir string

// TestMain builds the three binaries once (CGO_ENABLED=0, as `make build`
// does) unless ADSYNC_BIN names a directory that already holds them.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if dir := os.Getenv("ADSYNC_BIN"); dir != "" {
		binDir = dir
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "adsync-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: module root:", err)
		return 1
	}
	build := exec.Command("go", "build", "-trimpath", "-o", dir+string(filepath.Separator), "./cmd/...")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: build binaries: %v\n%s", err, out)
		return 1
	}
	binDir = dir
	return m.Run()
}

// binary is the path of one of adsync's binaries.
func binary(name string) string { return filepath.Join(binDir, name) }
