package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adsync/adsync/internal/store"
)

// RunLister is the part of the store that the run metrics read.
type RunLister interface {
	RecentRuns(ctx context.Context, limit int) ([]store.Run, error)
	RunningRuns(ctx context.Context) ([]store.Run, error)
}

// runQueryTimeout bounds the ledger queries of one scrape.
const runQueryTimeout = 5 * time.Second

// runStatuses are the final statuses of a run, one series each in
// adsync_last_run_status.
var runStatuses = []string{store.StatusDone, store.StatusDoneWithFailures, store.StatusIncomplete, store.StatusCancelled, store.StatusFailed}

// runCollector exports the run ledger at scrape time. A run ends in the
// transaction of its last page or record, inside the store, which reports
// no "run ended" event to the worker; and every worker replica would see
// the same ends. So rather than a cumulative histogram of run durations
// (which would need that event, observed exactly once), it exports gauges
// read from PostgreSQL: what is running now, and each client's last finished
// run, which is what an operator alerts on.
type runCollector struct {
	runs      RunLister
	recent    int
	running   *prometheus.Desc
	oldestAge *prometheus.Desc
	duration  *prometheus.Desc
	end       *prometheus.Desc
	status    *prometheus.Desc
}

func newRunCollector(runs RunLister, recent int) *runCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &runCollector{
		runs:      runs,
		recent:    recent,
		running:   desc("runs_running", "Sync runs that have not ended."),
		oldestAge: desc("run_oldest_running_age_seconds", "Age of the oldest sync run that has not ended (0 when none runs)."),
		duration:  desc("last_run_duration_seconds", "Duration of the client's last finished sync run.", "client"),
		end:       desc("last_run_end_timestamp_seconds", "Unix time at which the client's last finished sync run ended.", "client"),
		status:    desc("last_run_status", "1 for the final status of the client's last finished sync run, 0 for the others.", "client", "status"),
	}
}

// Describe implements prometheus.Collector.
func (c *runCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.running, c.oldestAge, c.duration, c.end, c.status} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: two ledger queries per scrape.
func (c *runCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), runQueryTimeout)
	defer cancel()
	running, err := c.runs.RunningRuns(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.running, fmt.Errorf("read running runs: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(len(running)))
	oldest := 0.0
	if len(running) > 0 { // oldest first
		oldest = time.Since(running[0].StartedAt).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, oldest)

	recent, err := c.runs.RecentRuns(ctx, c.recent)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.duration, fmt.Errorf("read recent runs: %w", err))
		return
	}
	for _, r := range lastFinished(recent) {
		ch <- prometheus.MustNewConstMetric(c.duration, prometheus.GaugeValue, r.FinishedAt.Sub(r.StartedAt).Seconds(), r.ClientID)
		ch <- prometheus.MustNewConstMetric(c.end, prometheus.GaugeValue, float64(r.FinishedAt.UnixMilli())/1000, r.ClientID)
		for _, s := range runStatuses {
			v := 0.0
			if r.Status == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.status, prometheus.GaugeValue, v, r.ClientID, s)
		}
	}
}

// lastFinished picks each client's newest finished run from runs given
// newest first.
func lastFinished(runs []store.Run) []store.Run {
	seen := map[string]bool{}
	var out []store.Run
	for _, r := range runs {
		if !r.Finished() || r.FinishedAt == nil || seen[r.ClientID] {
			continue
		}
		seen[r.ClientID] = true
		out = append(out, r)
	}
	return out
}
