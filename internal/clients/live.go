package clients

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/ops"
	"github.com/adsync/adsync/internal/platform"
)

// Source is where the client list comes from: Load reads and validates it
// whole, Paths names the files that Load reads, for the watcher.
type Source struct {
	// Load returns the whole validated list, or config.Problems.
	Load func() ([]config.Client, error)
	// Paths are the files Load reads; nil or empty: none to watch (the
	// list then only changes through the periodic re-read).
	Paths func() []string
}

// Defaults of Options.
const (
	// DefaultInterval is the periodic re-read, the fallback for a lost or
	// unsupported file notification: slow, since notifications are the
	// normal path.
	DefaultInterval = 30 * time.Second
	// DefaultSettle lets a burst of notifications (an editor's truncate
	// and write, a Secret volume's several renames) end before the read.
	DefaultSettle = 200 * time.Millisecond
)

// Options configure a Live list. Zero values take the defaults.
type Options struct {
	// Interval is the periodic re-read; zero means DefaultInterval.
	Interval time.Duration
	// Settle is how long the watcher waits after a notification for more
	// before it reads; zero means DefaultSettle.
	Settle time.Duration
	// Logger receives one line per change and per refused file; nil
	// discards them.
	Logger *slog.Logger
}

// Live is the client list in force in this process, replaced whole when
// the configuration changes. Safe for concurrent use.
type Live struct {
	src  Source
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[List]

	mu      sync.Mutex // serialises reloads, so subscribers see changes in order
	problem atomic.Pointer[string]
	subs    []func(context.Context, Change)

	configured prometheus.Gauge
	valid      prometheus.Gauge
	reloads    *prometheus.CounterVec
}

// New reads the list once; a problem then is bad configuration and is
// returned (the caller exits with status 2).
func New(src Source, opts Options) (*Live, error) {
	if src.Load == nil {
		return nil, errors.New("clients: Source.Load is required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clients, err := src.Load()
	if err != nil {
		return nil, err
	}
	l := &Live{src: src, opts: opts, log: log}
	l.cur.Store(newList(clients))
	l.registerMetrics()
	return l, nil
}

// List returns the list in force.
func (l *Live) List() *List { return l.cur.Load() }

// Credentials looks a client up in the list in force, for
// platform.Options.Credentials: a request always uses the newest password.
func (l *Live) Credentials(id string) (platform.Credentials, bool) {
	c, ok := l.List().Get(id)
	return platform.Credentials{Email: c.Email, Password: c.Password}, ok
}

// OnChange registers f to be called after each accepted change, in order,
// from the goroutine that reloads.
func (l *Live) OnChange(f func(context.Context, Change)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subs = append(l.subs, f)
}

// Problem returns why the newest configuration was refused, or nil while
// the list in force is the newest: for /readyz's body.
func (l *Live) Problem() error {
	if p := l.problem.Load(); p != nil {
		return fmt.Errorf("clients configuration refused, keeping the last good list of %d clients: %s", l.List().Len(), *p)
	}
	return nil
}

// Reload reads the configuration again and switches to it when it is
// valid and differs. A refused configuration leaves the list in force,
// logs one error line the first time (and again only when the problem
// changes) and is returned.
func (l *Live) Reload(ctx context.Context) (Change, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	clients, err := l.src.Load()
	if err != nil {
		l.refuse(ctx, err)
		return Change{}, err
	}
	if l.problem.Swap(nil) != nil {
		l.log.InfoContext(ctx, "clients configuration valid again", "clients", len(clients))
	}
	l.valid.Set(1)
	next := newList(clients)
	ch := diff(l.List(), next)
	if ch.Empty() {
		l.reloads.WithLabelValues("unchanged").Inc()
		return ch, nil
	}
	l.cur.Store(next)
	l.configured.Set(float64(next.Len()))
	l.reloads.WithLabelValues("changed").Inc()
	// Ids only: a rotated password is named by its client, never shown.
	l.log.InfoContext(ctx, "clients configuration changed", "clients", next.Len(),
		"added", ch.Added, "removed", ch.Removed, "rotated", ch.Rotated)
	for _, f := range l.subs {
		f(ctx, ch)
	}
	return ch, nil
}

// refuse records a refused configuration.
func (l *Live) refuse(ctx context.Context, err error) {
	l.valid.Set(0)
	l.reloads.WithLabelValues("refused").Inc()
	// config.Problems is one line per problem; the log gets them on one.
	text := strings.ReplaceAll(err.Error(), "\n", "; ")
	if prev := l.problem.Swap(&text); prev == nil || *prev != text {
		l.log.ErrorContext(ctx, "clients configuration refused; keeping the last good list",
			"problem", text, "clients_kept", l.List().Len())
	}
}

// registerMetrics builds the list's metrics; Collectors hands them out.
func (l *Live) registerMetrics() {
	l.configured = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "adsync", Name: "clients_configured",
		Help: "Clients in the list in force in this process."})
	l.valid = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "adsync", Name: "clients_config_valid",
		Help: "1 while the newest clients configuration is the one in force, 0 while a broken one is refused and the last good list kept."})
	l.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "adsync", Name: "clients_reloads_total",
		Help: "Reads of the clients configuration after start, by result: changed, unchanged or refused."}, []string{"result"})
	l.configured.Set(float64(l.List().Len()))
	l.valid.Set(1)
}

// Collectors are the list's metrics, for the process's registry.
func (l *Live) Collectors() []prometheus.Collector {
	return []prometheus.Collector{l.configured, l.valid, l.reloads}
}

// Check is the list's line in /readyz's body: advisory, since the process
// goes on working with the last good list.
func (l *Live) Check() ops.Check {
	return ops.Check{Name: "clients", Advisory: true, Probe: func(context.Context) error { return l.Problem() }}
}
