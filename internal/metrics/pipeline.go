package metrics

import (
	"time"

	"github.com/adsync/adsync/internal/pipeline"
)

// Compile-time proof that Metrics plugs into the pipeline's handlers.
var _ pipeline.Metrics = (*Metrics)(nil)

func (m *Metrics) registerPipeline() {
	m.saved = m.counter("campaigns_saved_total", "Campaigns saved to PostgreSQL, by client.", "client")
	m.dead = m.counter("campaigns_dead_lettered_total",
		"Campaign records dead-lettered (invalid, refused or out of retries), by client.", "client")
	m.pages = m.counter("pages_fetched_total", "Campaign list pages fetched and recorded, by client.", "client")
	m.requeues = m.counter("tasks_requeued_total",
		"Tasks put back in their queue to wait for the client's rate budget (not failures), by client.", "client")
	m.requeueDelay = m.histogram("requeue_delay_seconds",
		"How long requeued tasks wait in the queue for their client's rate budget, all clients.",
		[]float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60})
}

// CampaignSaved implements pipeline.Metrics.
func (m *Metrics) CampaignSaved(clientID string) { m.saved.WithLabelValues(clientID).Inc() }

// CampaignDead implements pipeline.Metrics.
func (m *Metrics) CampaignDead(clientID string) { m.dead.WithLabelValues(clientID).Inc() }

// PageFetched implements pipeline.Metrics.
func (m *Metrics) PageFetched(clientID string) { m.pages.WithLabelValues(clientID).Inc() }

// Requeued implements pipeline.Metrics: a task back in the queue for d.
func (m *Metrics) Requeued(clientID string, d time.Duration) {
	m.requeues.WithLabelValues(clientID).Inc()
	m.requeueDelay.Observe(d.Seconds())
}
