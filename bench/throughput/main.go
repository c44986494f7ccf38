// Command throughput is `make bench-throughput`: adsync's own ceiling when
// the platform sets none. It starts the mock platform with no rate limit, no
// faults and no delays, CLIENTS clients (default 100) of CAMPAIGNS campaigns
// (default 1,000) each, and WORKERS worker processes (default 2) with
// adsync's own rate limit out of the way, then syncs every client twice on a
// fresh database and Redis database each time: once committing each campaign
// on its own (WRITE_BATCH_SIZE=1, the path before group commit) and once with
// group-committed writes (WRITE_BATCH_SIZE, default 500). It prints a table
// and one RESULT line.
//
// Wall time is the ledger's: from the first run's start to the last run's
// end. CPU seconds are read from /proc for the workers, the mock, the
// PostgreSQL backends serving the bench database and the Redis server, and
// the machine's busy and stolen (hypervisor) shares from /proc/stat.
// PROFILE=1 adds a third, batched pass with `perf record` attached to the
// workers and prints the top of its profile; the RESULT line never comes
// from a profiled pass.
package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/adsync/adsync/bench/benchkit"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench-throughput:", err)
		os.Exit(1)
	}
}

// settings are the bench's knobs, from the environment.
type settings struct {
	clients, campaigns, workers int
	concurrency                 string
	batchSize, batchWait        string
	profile                     bool
}

func settingsFromEnv() settings {
	return settings{
		clients:     benchkit.EnvInt("CLIENTS", 100),
		campaigns:   benchkit.EnvInt("CAMPAIGNS", 1000),
		workers:     benchkit.EnvInt("WORKERS", 2),
		concurrency: benchkit.EnvString("WORKER_CONCURRENCY", "100"),
		batchSize:   benchkit.EnvString("WRITE_BATCH_SIZE", "500"),
		batchWait:   benchkit.EnvString("WRITE_BATCH_WAIT", "5ms"),
		profile:     os.Getenv("PROFILE") == "1",
	}
}

func run(ctx context.Context) error {
	s := settingsFromEnv()
	fmt.Printf("bench-throughput: %d clients x %d campaigns, %d worker processes x %s concurrency, no platform limits\n",
		s.clients, s.campaigns, s.workers, s.concurrency)
	passes := []pass{
		{name: "one commit per campaign", batchSize: "1", batchWait: "0s"},
		{name: "group commit", batchSize: s.batchSize, batchWait: s.batchWait},
	}
	if s.profile {
		passes = append(passes, pass{name: "group commit, profiled", batchSize: s.batchSize, batchWait: s.batchWait, profile: true})
	}
	results := make([]result, len(passes))
	for i, p := range passes {
		res, err := runPass(ctx, s, p)
		if err != nil {
			return fmt.Errorf("pass %q: %w", p.name, err)
		}
		results[i] = res
		fmt.Printf("  %s: %d saved in %.2fs (%.0f/s), logs in %s\n", p.name, res.saved, res.wall.Seconds(), res.perSecond(), res.dir)
		if p.batchSize == "1" && res.commits < int64(res.saved) {
			return fmt.Errorf("the pass with WRITE_BATCH_SIZE=1 committed %d transactions for %d campaigns: the worker "+
				"does not hand WRITE_BATCH_SIZE to the store (store.OpenWith in internal/wiring)", res.commits, res.saved)
		}
	}
	printTable(results)
	for _, r := range results {
		if r.profileTop != "" {
			fmt.Printf("\nProfile of the workers (perf record, pass %q):\n%s", r.name, r.profileTop)
		}
	}
	naive, batched := results[0], results[1]
	speedup := 0.0
	if naive.perSecond() > 0 {
		speedup = batched.perSecond() / naive.perSecond()
	}
	fmt.Printf("RESULT bench=throughput campaigns=%d saved=%d wall_s=%.2f per_s=%.0f naive_per_s=%.0f speedup=%.2f workers=%d rss_mb_max=%.0f\n",
		s.clients*s.campaigns, batched.saved, batched.wall.Seconds(), batched.perSecond(), naive.perSecond(), speedup,
		s.workers, batched.rssMB)
	return nil
}

func printTable(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pass\tbatch\tsaved\twall_s\tper_s\tcommits\trss_mb_max\tcpu_busy\tcpu_steal\tcpu_workers_s\tcpu_postgres_s\tcpu_redis_s\tcpu_mock_s\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f\t%d\t%.0f\t%.0f%%\t%.0f%%\t%.1f\t%.1f\t%.1f\t%.1f\t\n",
			r.name, r.batch, r.saved, r.wall.Seconds(), r.perSecond(), r.commits, r.rssMB, 100*r.cpu.machine.Busy, 100*r.cpu.machine.Steal,
			r.cpu.workers.Seconds(), r.cpu.postgres.Seconds(), r.cpu.redis.Seconds(), r.cpu.mock.Seconds())
	}
	_ = tw.Flush()
	fmt.Println("(commits: transactions committed in the bench database; cpu_busy: share of the machine's CPU its own " +
		"processes used; cpu_steal: share the hypervisor gave to other machines)")
}

// result is what one pass measured.
type result struct {
	name, batch string
	saved       int
	wall        time.Duration
	commits     int64
	rssMB       float64
	cpu         cpuUse
	dir         string
	profileTop  string
}

func (r result) perSecond() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.saved) / r.wall.Seconds()
}
