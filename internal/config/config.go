// Package config reads adsync's configuration from environment variables
// (documented in README.md and .env.example), validates every value and
// reports each bad variable on a line of its own, so an operator fixes all of
// them in one go.
package config

import (
	"fmt"
	"net/url"
	"time"

	"github.com/adsync/adsync/internal/redisconn"
	"github.com/adsync/adsync/internal/secret"
)

// Config is the configuration shared by the worker and the enqueuer. Each
// field's tag names its variable and default; the README explains them.
type Config struct {
	// RedisURL is the Redis holding queues, rate budgets and short-lived
	// state: one server, a Sentinel or a Cluster (see redisconn).
	RedisURL string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	// DatabaseURL is the PostgreSQL database; it may carry a password, so it
	// is only ever printed through Redacted.
	DatabaseURL secret.Secret `env:"DATABASE_URL" envDefault:"postgres://postgres:postgres@127.0.0.1:5432/adsync?sslmode=disable"`

	// PlatformURL is the ad platform's base URL.
	PlatformURL string `env:"PLATFORM_URL" envDefault:"http://127.0.0.1:3001"`
	// PlatformEmail, PlatformPassword and PlatformClientID describe the one
	// client synced when no ClientsFile is given.
	PlatformEmail    string        `env:"PLATFORM_EMAIL"`
	PlatformPassword secret.Secret `env:"PLATFORM_PASSWORD"`
	PlatformClientID string        `env:"PLATFORM_CLIENT_ID" envDefault:"default"`
	// ClientsFile is a JSON list of clients; when set it replaces the single
	// client variables.
	ClientsFile string `env:"CLIENTS_FILE"`

	// RateLimit and RateWindow are the platform's published limit per client.
	RateLimit  int           `env:"PLATFORM_RATE_LIMIT" envDefault:"10"`
	RateWindow time.Duration `env:"PLATFORM_RATE_WINDOW" envDefault:"60s"`
	// RateMargin is added to the window to absorb the latency between our
	// stamp of a request and its arrival at the platform.
	RateMargin time.Duration `env:"PLATFORM_RATE_MARGIN" envDefault:"200ms"`
	// RateWaitInPlace is the longest rate-limit wait a worker sleeps through
	// holding its slot; longer waits put the task back in the queue. Its
	// default leaves a task returning from the queue a second's lead on its
	// slot after asynq's whole-second schedule (ratelimit's returnLead).
	RateWaitInPlace time.Duration `env:"RATE_WAIT_IN_PLACE" envDefault:"3s"`

	// PageSize is the number of campaigns asked for per page request.
	PageSize int `env:"PAGE_SIZE" envDefault:"10"`
	// PlatformTimeout is the longest one platform request may take.
	PlatformTimeout time.Duration `env:"PLATFORM_TIMEOUT" envDefault:"10s"`
	// PlatformTimeoutFloor is the least timeout an endpoint is given once
	// its timeout follows its observed latency (docs/timeouts.md); above
	// PlatformTimeout it is PlatformTimeout.
	PlatformTimeoutFloor time.Duration `env:"PLATFORM_TIMEOUT_FLOOR" envDefault:"100ms"`
	// PlatformTimeoutFactor multiplies an endpoint's observed 99th
	// percentile latency into its timeout.
	PlatformTimeoutFactor float64 `env:"PLATFORM_TIMEOUT_FACTOR" envDefault:"2"`
	// SyncCall turns the per-campaign POST /api/campaigns/{id}/sync on.
	SyncCall bool `env:"SYNC_CALL" envDefault:"true"`
	// ListReconcilePasses is how many times a run may list its pages again
	// when the listing moved under it (a total that changed, an id on two
	// pages, fewer ids than the total); 0 never lists again.
	ListReconcilePasses int `env:"LIST_RECONCILE_PASSES" envDefault:"2"`

	// TaskMaxRetry is how often a failing task is retried before it is
	// dead-lettered; RetryBackoffMin and RetryBackoffMax bound its
	// exponential backoff, and also the platform client's in-place retries
	// and the wait of a task that met a database outage. The task policy
	// (pipeline.Policy) derives every one of those waits, and the task
	// timeout, from these, PLATFORM_TIMEOUT and RATE_WAIT_IN_PLACE.
	TaskMaxRetry    int           `env:"TASK_MAX_RETRY" envDefault:"10"`
	RetryBackoffMin time.Duration `env:"RETRY_BACKOFF_MIN" envDefault:"1s"`
	RetryBackoffMax time.Duration `env:"RETRY_BACKOFF_MAX" envDefault:"10m"`

	// WorkerConcurrency is the number of tasks one worker process runs at
	// once. Work is I/O bound (a sync call takes seconds), so it is high.
	WorkerConcurrency int `env:"WORKER_CONCURRENCY" envDefault:"100"`
	// QueuePollInterval is how often delayed and retried tasks are moved
	// back to their queue, and how long an idle worker waits before looking
	// again (asynq's DelayedTaskCheckInterval and TaskCheckInterval, 5 s and
	// 1 s there: each adds that much latency to every requeued task). 20 ms
	// lets an idle worker take a run's first task within 30 ms, for about 50
	// cheap Redis calls a second (docs/timeouts.md).
	QueuePollInterval time.Duration `env:"QUEUE_POLL_INTERVAL" envDefault:"20ms"`
	// ShutdownTimeout is how long a stopping worker lets in-flight tasks run.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`

	// HTTPAddr is where the worker's ops server listens.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// AsynqmonUser and AsynqmonPassword put basic auth in front of
	// /monitoring when both are set; AsynqmonReadOnly hides its buttons.
	AsynqmonUser     string        `env:"ASYNQMON_USER"`
	AsynqmonPassword secret.Secret `env:"ASYNQMON_PASSWORD"`
	AsynqmonReadOnly bool          `env:"ASYNQMON_READ_ONLY" envDefault:"false"`

	// LogLevel (debug, info, warn, error) and LogFormat (json, text) shape
	// the slog output.
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"`

	// WriteBatchSize is the most saved campaigns a worker commits in one
	// transaction: concurrent save tasks share a commit (group commit),
	// which per-campaign commits would otherwise cap. 1 commits each
	// campaign on its own.
	WriteBatchSize int `env:"WRITE_BATCH_SIZE" envDefault:"500"`
	// WriteBatchWait is the longest a saved campaign waits for others to
	// join its transaction; 0 commits as soon as the previous one is done.
	WriteBatchWait time.Duration `env:"WRITE_BATCH_WAIT" envDefault:"5ms"`
}

// RedactedDatabaseURL returns DatabaseURL with any password masked, for logs.
func (c Config) RedactedDatabaseURL() string { return redactURL(c.DatabaseURL.Reveal()) }

// RedactedRedisURL returns RedisURL with any password masked, the
// primary's in a Sentinel URL's query included, for logs.
func (c Config) RedactedRedisURL() string { return redisconn.Redact(c.RedisURL) }

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// String renders the configuration for a start-up log line; secrets are
// masked.
func (c Config) String() string {
	return fmt.Sprintf("redis=%s database=%s platform=%s clients_file=%q rate=%d/%s page_size=%d timeout=%s concurrency=%d",
		c.RedactedRedisURL(), c.RedactedDatabaseURL(), c.PlatformURL, c.ClientsFile,
		c.RateLimit, c.RateWindow, c.PageSize, c.PlatformTimeout, c.WorkerConcurrency)
}
