package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/adsync/adsync/bench/benchkit"
)

// selfLines is how many symbols of the self-time profile are printed.
const selfLines = 15

// frames are the call-graph entries that say where a worker's time goes,
// each with its time including what it calls (they overlap: the save
// handler includes the sync call, which includes the rate limiter).
var frames = []struct{ symbol, label string }{
	{"asynq/internal/rdb.(*RDB).Dequeue", "asynq: take a task (Redis script)"},
	{"asynq.(*processor).markAsDone", "asynq: mark it done (Redis script)"},
	{"pipeline.(*Handlers).save", "save handler, all of it"},
	{"platform.(*Client).SyncCampaign", "  sync call (HTTP), with its rate budget"},
	{"ratelimit.(*Limiter).Wait", "    rate budget (Redis script)"},
	{"store.(*Store).SaveCampaign", "  hand-off to the group commit, and the wait"},
	{"net/http.(*persistConn).readLoop", "HTTP client's connection reader (sync calls)"},
	{"net/http.(*persistConn).writeLoop", "HTTP client's connection writer (sync calls)"},
	{"store.(*Store).saveCampaigns", "group-committed write (PostgreSQL)"},
	{"pipeline.(*Handlers).fetchPage", "fetch-page handler"},
	{"tasks.(*Queue).enqueue", "fetch-page's enqueue of save tasks (a Redis script each)"},
	{"runtime.findRunnable", "Go scheduler looking for work"},
	{"runtime.sysmon", "Go runtime monitor"},
	{"runtime.gcBgMarkWorker", "garbage collector"},
}

// startProfile attaches `perf record` to the worker processes: the real
// worker binaries are profiled as they run, with no profiling code in them.
// The returned function stops it and returns the report: the frames above,
// then the top symbols by self time.
func startProfile(dir string, workers []*benchkit.Process) (func() (string, error), error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, fmt.Errorf("PROFILE=1 needs perf (apt-get install linux-perf): %w", err)
	}
	pids := make([]string, len(workers))
	for i, w := range workers {
		pids[i] = strconv.Itoa(w.PID())
	}
	data := filepath.Join(dir, "perf.data")
	var stderr bytes.Buffer
	rec := exec.Command("perf", "record", "-F", "499", "-g", "-o", data, "-p", strings.Join(pids, ",")) // #nosec G204 -- fixed program; a temp path and the pids of processes the bench started
	rec.Stderr = &stderr
	if err := rec.Start(); err != nil {
		return nil, fmt.Errorf("start perf record: %w", err)
	}
	return func() (string, error) {
		_ = rec.Process.Signal(syscall.SIGINT)
		// perf writes its data on SIGINT, then ends by the same signal: the
		// outcome is the data file, not the exit status.
		waitErr := rec.Wait()
		if fi, err := os.Stat(data); err != nil || fi.Size() == 0 {
			return "", fmt.Errorf("perf record wrote no data (%v): %s", waitErr, stderr.String())
		}
		inclusive, err := perfReport(data, "--children")
		if err != nil {
			return "", err
		}
		self, err := perfReport(data, "--no-children")
		if err != nil {
			return "", err
		}
		var b strings.Builder
		b.WriteString("where the workers' CPU time goes (share of samples, callees included):\n")
		for _, f := range frames {
			for _, e := range inclusive {
				if strings.HasSuffix(e.symbol, f.symbol) {
					fmt.Fprintf(&b, "  %7s  %s\n", e.share, f.label)
					break
				}
			}
		}
		b.WriteString("top symbols by self time ([k] kernel, [.] worker):\n")
		for _, e := range self[:min(selfLines, len(self))] {
			fmt.Fprintf(&b, "  %7s  %s\n", e.share, e.symbol)
		}
		return b.String(), nil
	}, nil
}

// perfEntry is one line of a perf report: a symbol and its share.
type perfEntry struct{ share, symbol string }

// perfReport reads the profile per symbol, by self time or (with
// --children) by time including callees, largest first.
func perfReport(data, mode string) ([]perfEntry, error) {
	out, err := exec.Command("perf", "report", "-i", data, "--stdio", mode, // #nosec G204 -- fixed program and flags; data is the bench's own temp file
		"--sort", "symbol", "-g", "none", "--percent-limit", "0.5").Output()
	if err != nil {
		return nil, fmt.Errorf("perf report: %w", err)
	}
	var entries []perfEntry
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 || strings.HasPrefix(fields[0], "#") || !strings.HasSuffix(fields[0], "%") {
			continue
		}
		// "share [self share] [k|.] symbol ...": the symbol follows the marker.
		for i, f := range fields {
			if (f == "[k]" || f == "[.]") && i+1 < len(fields) {
				entries = append(entries, perfEntry{share: fields[0], symbol: f + " " + fields[i+1]})
				break
			}
		}
	}
	return entries, nil
}
