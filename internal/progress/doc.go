// Package progress shows what the enqueuer's sync --wait and status commands
// print while runs of the sync_runs ledger advance: live bars on a terminal,
// plain periodic lines elsewhere (logs, CI), and a final table and exit code.
//
// The package never talks to PostgreSQL itself: the caller hands Watch a
// Source that reads the watched runs, and Watch polls it. That keeps the
// display testable with a plain function and leaves SQL in internal/store.
//
// # Plain lines
//
// In non-interactive mode Watch prints, every Options.PlainEvery, one line
// per running run, and one line when a run ends (exactly once per run, also
// for a run that had already ended when Watch first saw it):
//
//	progress client=c1 run=12 status=running pages=4/10 saved=37 dead=1 seen=40 eta=7m0s
//	ended client=c1 run=12 status=done saved=100 dead=0 duration=11m2s
//	ended client=c2 run=13 status=failed saved=3 dead=0 duration=42s reason="list page 2: unauthorized"
//
// Fields are space separated key=value pairs in this fixed order; reason,
// quoted as a Go string, is present only when the run has one. A Source
// error is reported once per outage as
//
//	poll-error err="store: list runs: ..."
//
// and polling goes on: a database that is briefly unreachable must not end
// a wait that may last hours.
//
// # ETA
//
// A run's remaining work is counted in platform requests, since every
// request of a client draws on the same rate budget:
//
//	pagesLeft = PagesPlanned - PagesDone - PagesFailed   (one list request each)
//	itemsLeft = CampaignsSeen - CampaignsSaved - CampaignsDead (one sync request each)
//	remaining = pagesLeft + itemsLeft + pagesLeft*PageSize (the records those pages are expected to hold)
//	ETA       = ceil(remaining / RateLimit) * RateWindow
//
// It is the time the remaining requests need at the platform's sustained
// rate, which is the bottleneck: worker latency, retries and backoff only
// add to it, so it is a lower bound, give or take the one window that an
// unused budget may let through at once. Pages not yet planned are unknown
// to it, so early in a run it grows as pages are discovered.
package progress
