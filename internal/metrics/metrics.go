package metrics

import (
	"log/slog"
	"net/http"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace starts the name of every adsync metric.
const namespace = "adsync"

// Metrics is adsync's metrics registry and the counters behind it. Build it
// with New; its methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry
	log      *slog.Logger

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	tokenRefreshes  *prometheus.CounterVec
	hedges          *prometheus.CounterVec
	timeouts        *prometheus.GaugeVec

	rateWait       prometheus.Histogram
	rateWaitedSecs *prometheus.CounterVec
	rateNoBudget   *prometheus.CounterVec
	rateGaveUp     *prometheus.CounterVec

	saved        *prometheus.CounterVec
	dead         *prometheus.CounterVec
	pages        *prometheus.CounterVec
	requeues     *prometheus.CounterVec
	requeueDelay prometheus.Histogram
}

// Options configure New.
type Options struct {
	// Queues reads asynq's queues at scrape time for the asynq_* metrics.
	// Required.
	Queues *asynq.Inspector
	// Runs reads the run ledger at scrape time for the adsync_run* metrics.
	// Required.
	Runs RunLister
	// RecentRuns is how many of the newest runs the last-run metrics look
	// at: a client whose last finished run is older than that many runs has
	// no adsync_last_run_* series. Zero means DefaultRecentRuns.
	RecentRuns int
	// Logger receives errors of scrape-time collection; nil discards them.
	Logger *slog.Logger
}

// DefaultRecentRuns is Options.RecentRuns when left zero.
const DefaultRecentRuns = 1000

// New builds the registry with Go runtime and process metrics, asynq's
// queue metrics, the run ledger's metrics and adsync's own counters.
//
// asynq's queue metrics come from asynq's own collector
// (github.com/hibiken/asynq/x/metrics, the one asynqmon's Prometheus
// integration reads), which still compiles against asynq v0.26. It reads
// every queue through asynq.Inspector at scrape time, so every worker replica
// reports the same values: aggregate them with max, not sum.
func New(o Options) *Metrics {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.RecentRuns <= 0 {
		o.RecentRuns = DefaultRecentRuns
	}
	m := &Metrics{registry: prometheus.NewRegistry(), log: log}
	m.registerPlatform()
	m.registerRateLimit()
	m.registerPipeline()
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		asynqmetrics.NewQueueMetricsCollector(o.Queues),
		newRunCollector(o.Runs, o.RecentRuns),
	)
	return m
}

// Handler serves the registry in Prometheus' text format. A collector that
// fails (the ledger or Redis unreachable) is logged and left out of that
// scrape; the other metrics are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// counter registers a counter family named adsync_<name>.
func (m *Metrics) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	m.registry.MustRegister(c)
	return c
}

// histogram registers an unlabelled histogram named adsync_<name>.
func (m *Metrics) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	m.registry.MustRegister(h)
	return h
}
