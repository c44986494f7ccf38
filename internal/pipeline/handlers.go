package pipeline

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// Handlers runs the worker's tasks. Build it with New and Register it on an
// asynq.ServeMux.
type Handlers struct {
	platform *platform.Client
	store    *store.Store
	fanOut   *fanout.FanOut
	syncCall bool
	// reconcilePasses is Options.ReconcilePasses resolved.
	reconcilePasses int
	policy          Policy
	// unconfiguredWait is Options.UnconfiguredWait resolved.
	unconfiguredWait time.Duration
	// dbOutage is shared by the tasks of this process.
	dbOutage outage
	log      *slog.Logger
	metrics  Metrics
}

// Metrics receives the pipeline's business events; nil-safe no-op when not
// wired.
type Metrics interface {
	CampaignSaved(clientID string)
	CampaignDead(clientID string)
	PageFetched(clientID string)
	Requeued(clientID string, d time.Duration)
}

// Options configures Handlers.
type Options struct {
	Platform *platform.Client
	Store    *store.Store
	// FanOut enqueues the work each page reveals.
	FanOut *fanout.FanOut
	// SyncCall makes the save handler call the platform's per-campaign
	// sync endpoint before saving (SYNC_CALL).
	SyncCall bool
	// Policy decides what becomes of a failed attempt, and how long a
	// task that met a database outage stays away (NewPolicy). The zero
	// Policy dead-letters every failure.
	Policy Policy
	// UnconfiguredWait is how long after its run started a task whose
	// client this worker's list lacks goes back to the queue before it is a
	// dead letter, and how long after the platform first refused a
	// client's credentials its tasks wait for new ones the same way; zero
	// means DefaultUnconfiguredWait. Both wait for a clients file to reach
	// every worker.
	UnconfiguredWait time.Duration
	// ReconcilePasses is how many times a run may list its pages again
	// when its listing moved under it (LIST_RECONCILE_PASSES); 0 never
	// does (nor does a negative value), and more than maxReconcilePasses
	// counts as that many. nil means DefaultReconcilePasses.
	ReconcilePasses *int
	Logger          *slog.Logger
	Metrics         Metrics
}

// DefaultReconcilePasses is LIST_RECONCILE_PASSES's default: a listing
// that moved once is listed again, and once more in case it moved during
// that pass.
const DefaultReconcilePasses = 2

// maxReconcilePasses bounds ReconcilePasses: each pass lists every page.
const maxReconcilePasses = 100

// New builds the handlers.
func New(o Options) *Handlers {
	m := o.Metrics
	if m == nil {
		m = noMetrics{}
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	passes := DefaultReconcilePasses
	if o.ReconcilePasses != nil {
		passes = min(max(*o.ReconcilePasses, 0), maxReconcilePasses)
	}
	return &Handlers{platform: o.Platform, store: o.Store, fanOut: o.FanOut, syncCall: o.SyncCall,
		reconcilePasses: passes, policy: o.Policy, unconfiguredWait: cmp.Or(o.UnconfiguredWait, DefaultUnconfiguredWait),
		log: log, metrics: m}
}

// Register installs the handlers, each wrapped in the policy that settles
// its failed attempts (settling).
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(tasks.TypeFetchPage, h.settling(holding(h.fetchPage)))
	mux.HandleFunc(tasks.TypeSave, h.settling(holding(h.save)))
}

// holding names the task as the rate-limit ticket holder, so that it
// claims the slot booked for it (package fanout) and keeps its place when
// it goes back to the queue for budget. A page is an urgent holder: the
// saves it reveals wait on it, so its retry takes a save's slot instead of
// one behind all of them.
func holding(next asynq.HandlerFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		if id, ok := asynq.GetTaskID(ctx); ok {
			if t.Type() == tasks.TypeFetchPage {
				ctx = ratelimit.WithUrgentHolder(ctx, id)
			} else {
				ctx = ratelimit.WithHolder(ctx, id)
			}
		}
		return next(ctx, t)
	}
}

type noMetrics struct{}

func (noMetrics) CampaignSaved(string)           {}
func (noMetrics) CampaignDead(string)            {}
func (noMetrics) PageFetched(string)             {}
func (noMetrics) Requeued(string, time.Duration) {}
