// Command ratelimit is `make bench-ratelimit`: it starts the mock platform
// at time scale 60 with its default faults and 100 campaigns per client,
// WORKERS worker processes and a full sync of CLIENTS clients, then compares
// each client's wall time with the bound the platform's rate limit sets and
// prints a table and one RESULT line. It also draws the requests of the
// first CHART_CLIENTS clients (3) against their sliding window into the SVG
// file CHART (ratelimit.svg in the run's log folder).
//
// The bound of a client that made R counted requests is
// floor((R-1)/L)·W + the last request's own service time: with at most L
// arrivals in any window W, the R-th arrival cannot come before
// floor((R-1)/L)·W, and the run is not over before that request is served.
//
// The RESULT line's pickup_ms is the largest delay, over the clients, from
// a run's start (sync_runs.started_at) to its first counted request
// arriving at the mock; the median is printed above it. The sync starts
// two seconds after every worker is ready, so that the pickup is that of
// idle workers.
package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/adsync/adsync/bench/benchkit"
	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ratelimit:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	clients := benchkit.EnvInt("CLIENTS", 50)
	workers := benchkit.EnvInt("WORKERS", 2)
	scale := benchkit.EnvInt("SCALE", 60)
	campaigns := benchkit.EnvInt("CAMPAIGNS", 100)
	const limit = 10
	window := time.Minute / time.Duration(scale)
	scaled := func(d time.Duration) string { return (d / time.Duration(scale)).String() }
	// The platform's durations shrink with the scale; the machine's do not.
	// The margin covers the spread of our own latency (scheduling on two
	// busy cores), so it is the production default or 150 ms, whichever is
	// more: every task booked its slot, a window's sends of fifty clients
	// go within about a second of each other, and on this machine their
	// arrivals spread by up to 110 ms. The in-place wait is the production
	// default whatever the scale: it is set by asynq's whole-second schedule
	// and the queue's hand-over, not by the platform. The queue poll interval
	// is the default.
	atLeast := func(d, floor time.Duration) string { return max(d/time.Duration(scale), floor).String() }
	margin, err := time.ParseDuration(benchkit.EnvString("RATE_MARGIN", atLeast(200*time.Millisecond, 150*time.Millisecond)))
	if err != nil {
		return fmt.Errorf("RATE_MARGIN: %w", err)
	}

	// The Redis database is leased like the tests' ones, so a test running
	// meanwhile never flushes the benchmark's queues.
	redisDB, release, err := testenv.LeaseRedisDB(ctx, 2*time.Hour)
	if err != nil {
		return err
	}
	defer release()
	env, err := benchkit.Fresh(ctx, redisDB, "ratelimit")
	if err != nil {
		return err
	}
	ids, err := env.WriteClients(clients)
	if err != nil {
		return err
	}
	charted := ids[:min(len(ids), benchkit.EnvInt("CHART_CLIENTS", 3))]
	platformURL, rec, stopMock, err := startMock(scale, campaigns, charted)
	if err != nil {
		return err
	}
	defer stopMock()
	if err := benchkit.WaitHTTP(platformURL+"/health", 10*time.Second); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"PLATFORM_URL":         platformURL,
		"PLATFORM_RATE_LIMIT":  strconv.Itoa(limit),
		"PLATFORM_RATE_WINDOW": window.String(),
		"PLATFORM_TIMEOUT":     benchkit.EnvString("PLATFORM_TIMEOUT", scaled(10*time.Second)),
		"PLATFORM_RATE_MARGIN": margin.String(),
		"QUEUE_POLL_INTERVAL":  benchkit.EnvString("QUEUE_POLL_INTERVAL", "20ms"),
		"RETRY_BACKOFF_MIN":    scaled(time.Second),
		"RETRY_BACKOFF_MAX":    scaled(10 * time.Minute),
		"WORKER_CONCURRENCY":   benchkit.EnvString("WORKER_CONCURRENCY", "600"),
	} {
		env.Vars[k] = v
	}

	st, err := store.Open(ctx, env.DatabaseURL)
	if err != nil {
		// The database is empty until a worker migrates it; open after.
		st = nil
	}
	var procs []*benchkit.Process
	var opsAddrs []string
	for i := 0; i < workers; i++ {
		addr, err := benchkit.FreeAddr()
		if err != nil {
			return err
		}
		p, err := env.Start("worker", map[string]string{"HTTP_ADDR": addr})
		if err != nil {
			return err
		}
		procs = append(procs, p)
		opsAddrs = append(opsAddrs, addr)
	}
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	if st == nil {
		if st, err = openWhenMigrated(ctx, env.DatabaseURL); err != nil {
			return err
		}
	}
	defer st.Close()

	// The pickup is measured on idle workers, as a scheduled sync meets
	// them: ready, and a moment past their start (pools opened, tokens
	// fetched), not while they boot.
	for _, a := range opsAddrs {
		if err := benchkit.WaitHTTP("http://"+a+"/readyz", 30*time.Second); err != nil {
			return err
		}
	}
	time.Sleep(idleBeforeSync)

	fmt.Printf("bench-ratelimit: %d clients x %d campaigns, %d workers, time scale %d (window %s), logs in %s\n",
		clients, campaigns, workers, scale, window, env.Dir)
	cpuBefore, err := benchkit.ReadMachineCPU()
	if err != nil {
		return err
	}
	enq, err := env.Start("enqueuer", nil, "sync")
	if err != nil {
		return err
	}
	<-waitExit(enq)
	runs, err := benchkit.WaitRuns(ctx, st, time.Duration(campaigns*clients/limit+600)*window*3)
	if err != nil {
		return err
	}
	cpuAfter, err := benchkit.ReadMachineCPU()
	if err != nil {
		return err
	}
	machine := cpuAfter.Since(cpuBefore)
	stats, err := benchkit.MockStats(platformURL)
	if err != nil {
		return err
	}
	limiter, err := benchkit.SumCounters(opsAddrs, gaveUp, noBudget, requeued)
	if err != nil {
		return err
	}
	chart := benchkit.EnvString("CHART", filepath.Join(env.Dir, "ratelimit.svg"))
	if err := checkRecording(rec.recorded(), stats.Clients, charted); err != nil {
		return err
	}
	if err := writeChart(chart, rec.recorded(), charted, limit, window, scale); err != nil {
		return err
	}
	fmt.Printf("chart of %d clients' requests against their window: %s\n", len(charted), chart)
	return report(runs, stats.Clients, ids, clients*campaigns, workers, limit, window, margin, 2*time.Second/time.Duration(scale), machine, limiter)
}

// idleBeforeSync is how long the workers idle, once ready, before the sync.
const idleBeforeSync = 2 * time.Second

// The workers' limiter counters the bench reports.
const (
	gaveUp   = "adsync_ratelimit_slots_given_up_total"
	noBudget = "adsync_ratelimit_no_budget_total"
	// requeued counts every return of a task to the queue that was not a
	// failure: for budget, after a 429, while the database was down.
	requeued = "adsync_tasks_requeued_total"
)

func waitExit(p *benchkit.Process) <-chan struct{} {
	ch := make(chan struct{})
	go func() { _ = p.Wait(); close(ch) }() // only the exit matters here, not its status
	return ch
}

func openWhenMigrated(ctx context.Context, url string) (*store.Store, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := store.Open(ctx, url)
		if err == nil {
			if _, err = st.RecentRuns(ctx, 1); err == nil {
				return st, nil
			}
			st.Close()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("database not ready: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type row struct {
	client           string
	wall, bound      time.Duration
	counted, http429 int64
	saved            int
	ratio            float64
	tightest         time.Duration
}

func report(runs []store.Run, stats map[string]mock.ClientStats, ids []string, campaigns, workers, limit int, window, margin, service time.Duration,
	machine benchkit.MachineShare, limiter map[string]float64) error {
	byClient := map[string]store.Run{}
	for _, r := range runs {
		byClient[r.ClientID] = r
	}
	var rows []row
	var pickups []time.Duration
	saved, ratioMax, http429 := 0, 0.0, int64(0)
	var wallMax, boundMax time.Duration
	tightest := time.Duration(math.MaxInt64)
	for _, id := range ids {
		r, ok := byClient[id]
		if !ok || r.FinishedAt == nil {
			return fmt.Errorf("client %s has no finished run", id)
		}
		s := stats[id]
		rw := row{client: id, wall: r.FinishedAt.Sub(r.StartedAt), counted: s.Counted, http429: s.RateLimited, saved: r.CampaignsSaved,
			tightest: s.TightestSpan}
		rw.bound = time.Duration((s.Counted-1)/int64(limit))*window + service
		rw.ratio = float64(rw.wall) / float64(rw.bound)
		rows = append(rows, rw)
		saved += r.CampaignsSaved
		http429 += s.RateLimited
		ratioMax = math.Max(ratioMax, rw.ratio)
		wallMax, boundMax = max(wallMax, rw.wall), max(boundMax, rw.bound)
		tightest = min(tightest, rw.tightest)
		pickups = append(pickups, s.FirstArrival.Sub(r.StartedAt))
	}
	slices.Sort(pickups)
	sort.Slice(rows, func(i, j int) bool { return rows[i].ratio > rows[j].ratio })
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\twall_s\tR\tbound_s\tratio\t429s\tsaved\tspan_ms\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.2f\t%d\t%.2f\t%.3f\t%d\t%d\t%.1f\t\n", r.client, r.wall.Seconds(), r.counted, r.bound.Seconds(), r.ratio, r.http429, r.saved, ms(r.tightest))
	}
	_ = tw.Flush()
	fmt.Printf("machine CPU during the sync: %.0f%% busy, %.0f%% stolen by the hypervisor "+
		"(stolen time delays sleeps and requests alike)\n", 100*machine.Busy, 100*machine.Steal)
	fmt.Printf("limiter: %.0f booked slots given up (sent too late), %.0f sends sent back to the queue for budget; %.0f requeues in all\n",
		limiter[gaveUp], limiter[noBudget], limiter[requeued])
	// The margin is there for latency: how much of it latency used says
	// whether RATE_MARGIN could be smaller on this machine at this load.
	fmt.Printf("tightest span from a request to the one %d after it: %.1f ms against a window of %s: latency used %.1f ms of the %s margin\n",
		limit, ms(tightest), window, ms(window+margin-tightest), margin)
	// Pickup: from a run's start in the ledger to its first counted request
	// arriving at the mock; the goal is 50 ms on an idle worker.
	fmt.Printf("pickup from a run's start to its first counted request: median %.1f ms, max %.1f ms\n",
		ms(pickups[len(pickups)/2]), ms(pickups[len(pickups)-1]))
	fmt.Printf("RESULT bench=ratelimit clients=%d workers=%d campaigns=%d saved=%d wall_s=%.2f bound_s=%.2f ratio_max=%.3f http429=%d pickup_ms=%.1f requeues=%.0f\n",
		len(ids), workers, campaigns, saved, wallMax.Seconds(), boundMax.Seconds(), ratioMax, http429, ms(pickups[len(pickups)-1]), limiter[requeued])
	return nil
}

// ms is d in milliseconds, for the report.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
