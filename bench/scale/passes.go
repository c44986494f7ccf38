package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/adsync/adsync/bench/benchkit"
)

// requeued is the workers' counter of tasks sent back to the queue, which
// the sync pass scrapes when bench-ratelimit's RESULT line lacks it.
const requeued = "adsync_tasks_requeued_total"

// writersGone bounds the wait, after a bench has exited, for its workers'
// connections to PostgreSQL to close (and their statistics to be flushed).
const writersGone = 30 * time.Second

// row is one worker count's figures.
type row struct {
	workers int
	sync    syncFigures
	tp      tpFigures
}

// syncFigures are the sync pass's: bench-ratelimit's RESULT and what the
// watcher saw of its workers.
type syncFigures struct {
	wall, ratioMax   float64
	http429          int
	campaigns, saved int // bench-ratelimit's: the campaigns to save, the ledger's count of saved items
	requeues         float64
	writes           campaignWrites // PostgreSQL's, after the workers exited
	workerProcs
}

// tpFigures are the unthrottled pass's (group commit): bench-throughput's
// RESULT and what the watcher saw of that pass's workers.
type tpFigures struct {
	wall, perS       float64
	campaigns, saved int
	writes           campaignWrites
	workerProcs
}

// workerProcs is what the watcher saw of one pass's worker processes.
type workerProcs struct {
	cpu    time.Duration
	rssMB  float64
	procs  int
	perRun time.Duration // CPU per saved campaign
}

func runSync(ctx context.Context, bin string, s settings, workers int) (syncFigures, error) {
	fmt.Printf("\n== sync, %d worker(s): bench-ratelimit ==\n", workers)
	res, procs, err := runBench(ctx, bin, "ratelimit", map[string]string{
		"CLIENTS": strconv.Itoa(s.clients), "WORKERS": strconv.Itoa(workers), "SCALE": strconv.Itoa(s.scale), "CAMPAIGNS": "100",
	}, []string{requeued})
	if err != nil {
		return syncFigures{}, err
	}
	var f syncFigures
	var http429, campaigns, saved float64
	for key, dst := range map[string]*float64{"wall_s": &f.wall, "ratio_max": &f.ratioMax, "http429": &http429, "campaigns": &campaigns, "saved": &saved} {
		if *dst, err = res.Float(key); err != nil {
			return f, err
		}
	}
	f.http429, f.campaigns, f.saved = int(http429), int(campaigns), int(saved)
	for _, p := range procs {
		f.requeues += p.Counters[requeued]
	}
	// Exact when bench-ratelimit's RESULT line carries it (counted after
	// the runs ended); the last scrape otherwise.
	if v, err := res.Float("requeues"); err == nil {
		f.requeues = v
	}
	f.workerProcs = summarise(procs, f.saved)
	if f.procs != workers {
		return f, fmt.Errorf("saw %d worker processes, expected %d", f.procs, workers)
	}
	f.writes, err = passWrites(ctx, procs)
	return f, err
}

func runThroughput(ctx context.Context, bin string, s settings, workers int) (tpFigures, error) {
	fmt.Printf("\n== unthrottled, %d worker(s): bench-throughput ==\n", workers)
	res, procs, err := runBench(ctx, bin, "throughput", map[string]string{
		"CLIENTS": strconv.Itoa(s.tpClients), "CAMPAIGNS": strconv.Itoa(s.tpCampaigns), "WORKERS": strconv.Itoa(workers), "PROFILE": "",
		"CHART": "-", // its own chart is of bench-throughput's full run (docs/img/throughput.svg), not of these passes
	}, nil)
	if err != nil {
		return tpFigures{}, err
	}
	var f tpFigures
	var saved float64
	for key, dst := range map[string]*float64{"wall_s": &f.wall, "per_s": &f.perS, "saved": &saved} {
		if *dst, err = res.Float(key); err != nil {
			return f, err
		}
	}
	f.saved, f.campaigns = int(saved), s.tpClients*s.tpCampaigns
	// bench-throughput runs a pass committing each campaign alone, then the
	// group-commit pass its RESULT line reports: that one's workers are the
	// last generation.
	gens := benchkit.Generations(procs)
	last := gens[len(gens)-1]
	f.workerProcs = summarise(last, f.saved)
	if f.procs != workers {
		return f, fmt.Errorf("saw %d worker processes in the last pass, expected %d (%d passes seen)", f.procs, workers, len(gens))
	}
	f.writes, err = passWrites(ctx, last)
	return f, err
}

// passWrites counts, in the database the pass's workers used, the
// campaigns saved and the times they were written. The bench that ran
// the pass has exited by now and stopped its workers; the database stays
// until the next pass of that bench recreates it.
func passWrites(ctx context.Context, procs []benchkit.Watched) (campaignWrites, error) {
	url, err := passDatabase(procs)
	if err != nil {
		return campaignWrites{}, err
	}
	return countCampaignWrites(ctx, url, writersGone)
}

func summarise(procs []benchkit.Watched, saved int) workerProcs {
	w := workerProcs{procs: len(procs)}
	for _, p := range procs {
		w.cpu += p.CPU
		w.rssMB = max(w.rssMB, float64(p.MaxRSSBytes)/(1<<20))
	}
	if saved > 0 {
		w.perRun = w.cpu / time.Duration(saved)
	}
	return w
}
