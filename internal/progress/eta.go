package progress

import (
	"time"

	"github.com/adsync/adsync/internal/store"
)

// ETA returns the lower-bound time a run still needs, from the platform's
// limit of rateLimit requests per window for one client and the expected
// pageSize records per page not yet fetched (the formula is in the package
// documentation). It is 0 for an ended run and when rateLimit or window is
// not positive, since no bound is known then.
func ETA(r store.Run, rateLimit int, window time.Duration, pageSize int) time.Duration {
	if r.Finished() || rateLimit <= 0 || window <= 0 {
		return 0
	}
	remaining := pagesLeft(r) + itemsLeft(r) + pagesLeft(r)*max(pageSize, 0)
	windows := (remaining + rateLimit - 1) / rateLimit
	return time.Duration(windows) * window
}

// pagesLeft is the number of planned pages not yet fetched.
func pagesLeft(r store.Run) int {
	return max(r.PagesPlanned-r.PagesDone-r.PagesFailed, 0)
}

// itemsLeft is the number of records seen whose sync has not ended.
func itemsLeft(r store.Run) int {
	return max(r.CampaignsSeen-r.CampaignsSaved-r.CampaignsDead, 0)
}

// expectedRecords is the best-known total of a run's records: those seen
// plus pageSize for every page not yet fetched.
func expectedRecords(r store.Run, pageSize int) int {
	if r.Finished() {
		return r.CampaignsSeen
	}
	return r.CampaignsSeen + pagesLeft(r)*max(pageSize, 0)
}

// endedRecords is the number of records whose sync has ended, saved or dead.
func endedRecords(r store.Run) int {
	return r.CampaignsSaved + r.CampaignsDead
}

// duration is how long a run took, or has taken so far at now, to the second.
func duration(r store.Run, now time.Time) time.Duration {
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(r.StartedAt).Round(time.Second)
}
