// Package campaign is the campaign record as adsync stores it, and the one
// place that decides whether a record sent by the platform is valid. A record
// that fails here is dead-lettered with the reason; it is never stored half
// right.
package campaign

import (
	"time"
)

// Campaign is one validated campaign of one client.
type Campaign struct {
	ID     string
	Name   string
	Status string
	// Budget keeps the platform's decimal text (for example "1234.50"), so
	// no digit is lost on the way to PostgreSQL's numeric column.
	Budget      string
	Impressions int64
	Clicks      int64
	Conversions int64
	CreatedAt   time.Time
	// Unknown names the metrics the platform sent as null (it has no figure
	// yet): their fields above hold their zero value and are stored as
	// NULL. A flag beside the value, as database/sql's Null types do, keeps
	// the fields plain numbers for the callers that compare them.
	Unknown Metrics
}

// Metrics is a set of the nullable metrics of a campaign.
type Metrics uint8

// The nullable metrics.
const (
	MetricBudget Metrics = 1 << iota
	MetricImpressions
	MetricClicks
	MetricConversions
)

// Has reports whether every metric of m is in the set.
func (s Metrics) Has(m Metrics) bool { return s&m == m }

// Limits on field sizes, so one absurd record cannot bloat a row or a log.
const (
	maxIDLen     = 255
	maxNameLen   = 1000
	maxStatusLen = 64
)
