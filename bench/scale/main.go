// Command scale is `make bench-scale`: horizontal scaling, measured. For
// each worker count of SCALE_WORKERS (default 1,2,4) it runs, as
// subprocesses, the same sync as `make bench-ratelimit` (SCALE_CLIENTS
// clients, default 20, of 100 campaigns at time scale SCALE, default 60,
// with the mock's default faults) and the unthrottled pass of `make
// bench-throughput` (THROUGHPUT_CLIENTS x THROUGHPUT_CAMPAIGNS, default
// 100 x 200), reads their RESULT lines, and follows their worker processes
// from outside (/proc, and each worker's /metrics) for what those lines do
// not say: CPU time and peak RSS. Once a pass's workers have exited, it
// reads from the pass's database how many campaign rows there are and how
// many times PostgreSQL counted them written, which tells a campaign saved
// twice from one saved once. It prints a table per pass and one RESULT
// line:
//
//	RESULT bench=scale workers=1,2,4 ratio_max=A,B,C http429=0 per_s=X,Y,Z ...
//
// The goals it reports on: no 429 at any count, ratio_max with the most
// workers no worse than with one (within 0.02), every campaign saved once
// in the sync, and the unthrottled pass's clients x campaigns all saved,
// once.
// Running the other benches unchanged, rather than copying them, keeps one
// definition of each measurement.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/adsync/adsync/bench/benchkit"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(1)
	}
}

// settings are the bench's knobs, from the environment.
type settings struct {
	workers                []int
	clients, scale         int
	tpClients, tpCampaigns int
	tolerance              float64
}

func settingsFromEnv() (settings, error) {
	s := settings{
		clients:     benchkit.EnvInt("SCALE_CLIENTS", 20),
		scale:       benchkit.EnvInt("SCALE", 60),
		tpClients:   benchkit.EnvInt("THROUGHPUT_CLIENTS", 100),
		tpCampaigns: benchkit.EnvInt("THROUGHPUT_CAMPAIGNS", 200),
		tolerance:   0.02,
	}
	for _, f := range strings.Split(benchkit.EnvString("SCALE_WORKERS", "1,2,4"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return s, fmt.Errorf("SCALE_WORKERS: %q is not a list of positive worker counts such as 1,2,4", os.Getenv("SCALE_WORKERS"))
		}
		s.workers = append(s.workers, n)
	}
	return s, nil
}

func run(ctx context.Context) error {
	s, err := settingsFromEnv()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "adsync-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	benches := map[string]string{}
	for _, name := range []string{"ratelimit", "throughput"} {
		benches[name] = filepath.Join(dir, name)
		// #nosec G204 -- the go tool building the project's own benches
		build := exec.CommandContext(ctx, benchkit.EnvString("GO", "go"), "build", "-o", benches[name], "./bench/"+name)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build bench/%s: %w", name, err)
		}
	}
	fmt.Printf("bench-scale: %s worker processes; sync: %d clients x 100 campaigns at time scale %d with the default faults; "+
		"unthrottled: %d clients x %d campaigns; load average at start %s\n",
		joinInts(s.workers), s.clients, s.scale, s.tpClients, s.tpCampaigns, loadAverage())

	var rows []row
	for _, n := range s.workers {
		r := row{workers: n}
		if r.sync, err = runSync(ctx, benches["ratelimit"], s, n); err != nil {
			return fmt.Errorf("%d workers, sync: %w", n, err)
		}
		if r.tp, err = runThroughput(ctx, benches["throughput"], s, n); err != nil {
			return fmt.Errorf("%d workers, unthrottled: %w", n, err)
		}
		rows = append(rows, r)
	}
	fmt.Printf("\nload average at the end %s (2 cores shared with other work: timings are disturbed by it)\n", loadAverage())
	report(rows, s)
	return nil
}

// runBench runs a bench binary from the repository root (the benches start
// bin/worker and friends from there) with extra variables, echoes its
// output indented, follows its worker processes, and returns its RESULT.
func runBench(ctx context.Context, bin, name string, vars map[string]string, counters []string) (benchkit.Result, []benchkit.Watched, error) {
	cmd := exec.CommandContext(ctx, bin) // #nosec G204 -- a bench binary this program just built
	cmd.Env = os.Environ()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start bench %s: %w", name, err)
	}
	w := benchkit.Watch(cmd.Process.Pid, benchkit.WatchOptions{Name: "worker", Counters: counters, ScrapeEvery: 500 * time.Millisecond})
	res, perr := benchkit.LastResult(out, name, indent{os.Stdout})
	werr := cmd.Wait()
	procs := w.Stop()
	if werr != nil {
		return nil, nil, fmt.Errorf("bench %s: %w", name, werr)
	}
	if perr != nil {
		return nil, nil, perr
	}
	if len(procs) == 0 {
		return nil, nil, fmt.Errorf("bench %s: no worker process seen", name)
	}
	return res, procs, nil
}

// indent writes each line it is given two spaces and a bar in.
type indent struct{ w *os.File }

func (i indent) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(i.w, "  | %s", p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// loadAverage is the machine's 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
