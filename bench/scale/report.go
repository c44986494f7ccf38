package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func report(rows []row, s settings) {
	fmt.Printf("\nSync at the platform's pace: %d clients x 100 campaigns, time scale %d, default faults (bench-ratelimit)\n", s.clients, s.scale)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workers\twall_s\tratio_max\t429s\trequeues\tsaved\trows\trow_saves\trollbacks\tcampaigns/s\tcpu_workers_s\tcpu_ms/campaign\trss_mb_max\t")
	for _, r := range rows {
		f := r.sync
		fmt.Fprintf(tw, "%d\t%.2f\t%.3f\t%d\t%.0f\t%d/%d\t%d\t%d\t%d\t%.0f\t%.2f\t%.3f\t%.0f\t\n", r.workers, f.wall, f.ratioMax, f.http429, f.requeues,
			f.saved, f.campaigns, f.writes.rows, f.writes.saves(), f.writes.rollbacks, perSecond(f.saved, f.wall), f.cpu.Seconds(), ms(f.perRun), f.rssMB)
	}
	_ = tw.Flush()
	fmt.Println("(requeues: the workers' adsync_tasks_requeued_total once the runs ended; saved: the ledger's saved items / the campaigns; " +
		"rows, row_saves, rollbacks: PostgreSQL's campaigns rows, the times rows were written by a save, and its rolled-back " +
		"transactions, read once the workers had exited; cpu: the workers' user+system time from /proc, including start-up)")

	fmt.Printf("\nUnthrottled: %d clients x %d campaigns, no platform limits, group commit (bench-throughput)\n", s.tpClients, s.tpCampaigns)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workers\twall_s\tsaved\trows\trow_saves\trollbacks\tcampaigns/s\tcpu_workers_s\tcpu_ms/campaign\trss_mb_max\t")
	for _, r := range rows {
		f := r.tp
		fmt.Fprintf(tw, "%d\t%.2f\t%d/%d\t%d\t%d\t%d\t%.0f\t%.2f\t%.3f\t%.0f\t\n", r.workers, f.wall, f.saved, f.campaigns,
			f.writes.rows, f.writes.saves(), f.writes.rollbacks, f.perS, f.cpu.Seconds(), ms(f.perRun), f.rssMB)
	}
	_ = tw.Flush()

	var workers, ratios, perS, syncCPU, tpCPU, requeues []string
	http429 := 0
	for _, r := range rows {
		workers = append(workers, strconv.Itoa(r.workers))
		ratios = append(ratios, fmt.Sprintf("%.3f", r.sync.ratioMax))
		perS = append(perS, fmt.Sprintf("%.0f", r.tp.perS))
		syncCPU = append(syncCPU, fmt.Sprintf("%.3f", ms(r.sync.perRun)))
		tpCPU = append(tpCPU, fmt.Sprintf("%.3f", ms(r.tp.perRun)))
		requeues = append(requeues, fmt.Sprintf("%.0f", r.sync.requeues))
		http429 += r.sync.http429
	}
	fmt.Println()
	for _, g := range goals(rows, s.tolerance) {
		fmt.Println(g)
	}
	fmt.Printf("RESULT bench=scale workers=%s ratio_max=%s http429=%d per_s=%s requeues=%s sync_cpu_ms_per_campaign=%s cpu_ms_per_campaign=%s\n",
		strings.Join(workers, ","), strings.Join(ratios, ","), http429, strings.Join(perS, ","), strings.Join(requeues, ","),
		strings.Join(syncCPU, ","), strings.Join(tpCPU, ","))
}

// goals states, one line each, whether the goals were met.
func goals(rows []row, tolerance float64) []string {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	no429, savedOnce, tpSaved := true, true, true
	for _, r := range rows {
		no429 = no429 && r.sync.http429 == 0
		savedOnce = savedOnce && r.sync.saved == r.sync.campaigns && r.sync.writes.savedOnce(r.sync.campaigns)
		tpSaved = tpSaved && r.tp.saved == r.tp.campaigns && r.tp.writes.savedOnce(r.tp.campaigns)
	}
	first, last := rows[0], rows[len(rows)-1]
	return []string{
		fmt.Sprintf("goal: no 429 at any worker count: %s", verdict(no429)),
		fmt.Sprintf("goal: ratio_max with %d workers (%.3f) no worse than with %d (%.3f) within %.2f: %s",
			last.workers, last.sync.ratioMax, first.workers, first.sync.ratioMax, tolerance,
			verdict(last.sync.ratioMax <= first.sync.ratioMax+tolerance)),
		fmt.Sprintf("goal: every campaign of the sync saved, none twice (at every count: ledger's saved items = campaigns rows = "+
			"row saves = campaigns; a rollback's rows count as saves too): %s", verdict(savedOnce)),
		fmt.Sprintf("goal: the unthrottled pass saved its %d campaigns (clients x campaigns), none twice, at every count: %s",
			first.tp.campaigns, verdict(tpSaved)),
	}
}

func perSecond(n int, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(n) / seconds
}

// ms is d in milliseconds, for the report.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
