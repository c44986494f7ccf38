// Command throughput is `make bench-throughput`: adsync's own ceiling when
// the platform sets none. It starts the mock platform with no rate limit, no
// faults and no delays, CLIENTS clients (default 100) of CAMPAIGNS campaigns
// (default 1,000) each, and WORKERS worker processes (default 2) with
// adsync's own rate limit out of the way, then syncs every client twice on a
// fresh database and Redis database each time: once committing each campaign
// on its own (WRITE_BATCH_SIZE=1, the path before group commit) and once with
// group-committed writes (WRITE_BATCH_SIZE and WRITE_BATCH_WAIT as set, else
// the workers' defaults). Right before and right after the group-commit
// pass it runs bench-queue's pass (benchkit.RunQueuePass) with as many tasks
// as campaigns, the same worker processes and concurrency: asynq's own no-op
// tasks per second on this machine at that moment, the two taken together,
// are the ceiling the group-commit pass is reported against (queue_ratio).
// It prints a table, the CPU each part spent per campaign, and one RESULT
// line.
//
// Wall time is the ledger's: from the first run's start to the last run's
// end. CPU seconds are read from /proc for the workers, the mock, the
// PostgreSQL backends serving the bench database and the Redis server, and
// the machine's busy and stolen (hypervisor) shares from /proc/stat.
// PROFILE=1 adds a third, batched pass with `perf record` attached to the
// workers and prints the top of its profile; the RESULT line never comes
// from a profiled pass. NAIVE=0 leaves out the one-commit-per-campaign pass
// (the slowest) while tuning. The passes are drawn side by side in
// docs/img/throughput.svg (CHART names another file, "-" none); a chart
// that cannot be drawn fails the bench, before its RESULT line.
package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/adsync/adsync/bench/benchkit"
)

func main() {
	if child, err := benchkit.ServeNoopWorker(); child {
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-throughput: no-op worker:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench-throughput:", err)
		os.Exit(1)
	}
}

// settings are the bench's knobs, from the environment.
type settings struct {
	clients, campaigns, workers, concurrency int
	batchSize, batchWait                     string
	profile                                  bool
	// naive runs the one-commit-per-campaign pass; NAIVE=0 leaves it out
	// (speedup and naive_per_s then read 0), for quicker runs while tuning.
	naive bool
}

func settingsFromEnv() settings {
	return settings{
		clients:     benchkit.EnvInt("CLIENTS", 100),
		campaigns:   benchkit.EnvInt("CAMPAIGNS", 1000),
		workers:     benchkit.EnvInt("WORKERS", 2),
		concurrency: benchkit.EnvInt("WORKER_CONCURRENCY", 100),
		// Unset, the workers' own defaults apply: the bench measures what
		// ships, and follows it when a default changes.
		batchSize: os.Getenv("WRITE_BATCH_SIZE"),
		batchWait: os.Getenv("WRITE_BATCH_WAIT"),
		profile:   os.Getenv("PROFILE") == "1",
		naive:     os.Getenv("NAIVE") != "0",
	}
}

func run(ctx context.Context) error {
	s := settingsFromEnv()
	fmt.Printf("bench-throughput: %d clients x %d campaigns, %d worker processes x %d concurrency, no platform limits\n",
		s.clients, s.campaigns, s.workers, s.concurrency)
	var results []result
	var naive result
	if s.naive {
		var err error
		if naive, err = runAndReport(ctx, s, pass{name: "one commit per campaign", batchSize: "1", batchWait: "0s"}); err != nil {
			return err
		}
		results = append(results, naive)
	}
	// asynq's ceiling is measured right before and right after the
	// group-commit pass, and the two taken together, so that a burst of
	// load from elsewhere on the machine during one of them moves the
	// ratio less.
	before, err := runQueuePass(ctx, s, "before")
	if err != nil {
		return err
	}
	batched, err := runAndReport(ctx, s, pass{name: "group commit", batchSize: s.batchSize, batchWait: s.batchWait})
	if err != nil {
		return err
	}
	after, err := runQueuePass(ctx, s, "after")
	if err != nil {
		return err
	}
	queue := before.Process.Plus(after.Process)
	results = append(results, batched)
	if s.profile {
		profiled, err := runAndReport(ctx, s, pass{name: "group commit, profiled", batchSize: s.batchSize, batchWait: s.batchWait, profile: true})
		if err != nil {
			return err
		}
		results = append(results, profiled)
	}
	printTable(results)
	fmt.Println()
	benchkit.PrintQueueTable(before, after)
	printCPUPerCampaign(results, queue)
	for _, r := range results {
		if r.profileTop != "" {
			fmt.Printf("\nProfile of the workers (perf record, pass %q):\n%s", r.name, r.profileTop)
		}
	}
	if err := writeChart(chartPath, results, queue); err != nil {
		return fmt.Errorf("chart not written: %w", err)
	}
	speedup, ratio := 0.0, 0.0
	if naive.perSecond() > 0 {
		speedup = batched.perSecond() / naive.perSecond()
	}
	if queue.PerSecond() > 0 {
		ratio = batched.perSecond() / queue.PerSecond()
	}
	fmt.Printf("RESULT bench=throughput campaigns=%d saved=%d wall_s=%.2f per_s=%.0f naive_per_s=%.0f speedup=%.2f "+
		"queue_per_s=%.0f queue_ratio=%.2f cpu_us_workers=%.0f cpu_us_postgres=%.0f cpu_us_redis=%.0f workers=%d rss_mb_max=%.0f\n",
		s.clients*s.campaigns, batched.saved, batched.wall.Seconds(), batched.perSecond(), naive.perSecond(), speedup,
		queue.PerSecond(), ratio, micros(batched.cpu.workers, batched.saved), micros(batched.cpu.postgres, batched.saved),
		micros(batched.cpu.redis, batched.saved), s.workers, batched.rssMB)
	return nil
}

// runQueuePass runs asynq's no-op pass with as many tasks as the bench
// saves campaigns, on as many worker processes of the same concurrency.
func runQueuePass(ctx context.Context, s settings, when string) (benchkit.QueueResult, error) {
	res, err := benchkit.RunQueuePass(ctx, benchkit.QueueSettings{
		Tasks: s.clients * s.campaigns, Workers: s.workers, Concurrency: s.concurrency})
	if err != nil {
		return res, fmt.Errorf("asynq's no-op pass %s group commit: %w", when, err)
	}
	res.Enqueue.Name += ", " + when
	res.Process.Name += ", " + when
	fmt.Printf("  asynq alone (no-op handlers), %s group commit: %d tasks taken and finished in %.2fs (%.0f/s)\n",
		when, res.Process.Tasks, res.Process.Wall.Seconds(), res.Process.PerSecond())
	return res, nil
}

// runAndReport runs one pass, prints its line, and checks that a pass
// meant to commit each campaign alone did.
func runAndReport(ctx context.Context, s settings, p pass) (result, error) {
	res, err := runPass(ctx, s, p)
	if err != nil {
		return res, fmt.Errorf("pass %q: %w", p.name, err)
	}
	fmt.Printf("  %s: %d saved in %.2fs (%.0f/s), logs in %s\n", p.name, res.saved, res.wall.Seconds(), res.perSecond(), res.dir)
	if p.batchSize == "1" && res.commits < int64(res.saved) {
		return res, fmt.Errorf("the pass with WRITE_BATCH_SIZE=1 committed %d transactions for %d campaigns: the worker "+
			"does not hand WRITE_BATCH_SIZE to the store (store.OpenWith in internal/wiring)", res.commits, res.saved)
	}
	return res, nil
}

// micros is d per item, in microseconds.
func micros(d time.Duration, items int) float64 {
	if items <= 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(items)
}

// printCPUPerCampaign prints the CPU each part spent per campaign saved,
// and asynq's no-op pass per task beside it: the worker CPU above asynq's
// own is adsync's.
func printCPUPerCampaign(results []result, queue benchkit.QueuePhase) {
	fmt.Println("\nCPU per campaign (µs; asynq alone: per no-op task):")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pass\tworkers\tpostgres\tredis\tmock\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t\n", r.name, micros(r.cpu.workers, r.saved),
			micros(r.cpu.postgres, r.saved), micros(r.cpu.redis, r.saved), micros(r.cpu.mock, r.saved))
	}
	fmt.Fprintf(tw, "asynq alone\t%.0f\t-\t%.0f\t-\t\n", micros(queue.Workers, queue.Tasks), micros(queue.Redis, queue.Tasks))
	_ = tw.Flush()
	fmt.Println("(redis: the shared Redis server's CPU over the pass, other users' included)")
	for _, r := range results {
		if r.profileTop == "" && r.batch != "1" && r.saved > 0 {
			fmt.Printf("capacity at the platform's pace (%.2f saves/s per client), from pass %q: one worker core carries %.0f clients, "+
				"one PostgreSQL core %.0f, one Redis core %.0f\n", savesPerClient, r.name, clientsPerCore(r.cpu.workers, r.saved),
				clientsPerCore(r.cpu.postgres, r.saved), clientsPerCore(r.cpu.redis, r.saved))
		}
	}
}

// savesPerClient is the most saves per second one client needs at the
// platform's pace: 10 counted requests per 60 s, every one a sync call.
const savesPerClient = 10.0 / 60

// clientsPerCore is how many clients syncing at the platform's pace one
// core carries, at cpu spent on saved campaigns.
func clientsPerCore(cpu time.Duration, saved int) float64 {
	perSave := micros(cpu, saved)
	if perSave <= 0 {
		return 0
	}
	return 1e6 / perSave / savesPerClient
}

func printTable(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pass\tbatch\twait\tsaved\twall_s\tper_s\tcommits\trss_mb_max\tcpu_busy\tcpu_steal\tcpu_workers_s\tcpu_postgres_s\tcpu_redis_s\tcpu_mock_s\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\t%.0f\t%d\t%.0f\t%.0f%%\t%.0f%%\t%.1f\t%.1f\t%.1f\t%.1f\t\n",
			r.name, cmp.Or(r.batch, "default"), cmp.Or(r.wait, "default"), r.saved, r.wall.Seconds(), r.perSecond(), r.commits, r.rssMB, 100*r.cpu.machine.Busy, 100*r.cpu.machine.Steal,
			r.cpu.workers.Seconds(), r.cpu.postgres.Seconds(), r.cpu.redis.Seconds(), r.cpu.mock.Seconds())
	}
	_ = tw.Flush()
	fmt.Println("(commits: transactions committed in the bench database; cpu_busy: share of the machine's CPU its own " +
		"processes used; cpu_steal: share the hypervisor gave to other machines)")
}

// result is what one pass measured.
type result struct {
	name, batch, wait string // batch and wait: WRITE_BATCH_SIZE and _WAIT, "" for the default
	saved             int
	wall              time.Duration
	commits           int64
	rssMB             float64
	cpu               cpuUse
	dir               string
	profileTop        string
}

func (r result) perSecond() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.saved) / r.wall.Seconds()
}
