package progress

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/adsync/adsync/internal/store"
)

// Source returns the current state of the watched runs. The caller polls
// PostgreSQL in it (store.Runs for the runs just enqueued, store.RunningRuns
// for status), so this package needs no database.
type Source func(ctx context.Context) ([]store.Run, error)

// Options shape how Watch shows progress.
type Options struct {
	// Out receives the bars or lines; nil discards them.
	Out io.Writer
	// Interactive draws one live bar per run, updated in place (mpb). It is
	// meant for a terminal (see IsTerminal): on any other writer mpb draws
	// nothing. False prints plain periodic lines, for logs and CI.
	Interactive bool
	// Poll is how often Source is read; zero means 500ms.
	Poll time.Duration
	// PlainEvery is how often, in non-interactive mode, a line per running
	// run is printed (a line is printed whenever a run ends regardless);
	// zero means 10s.
	PlainEvery time.Duration
	// RateLimit requests per RateWindow per client is the platform's limit
	// the ETA is computed from; zero in either means no ETA (shown as 0s).
	RateLimit  int
	RateWindow time.Duration
	// PageSize is the number of records a page not yet fetched is expected
	// to hold, for the ETA and the bars' totals; zero counts none.
	PageSize int
}

// Defaults for the zero Options fields.
const (
	defaultPoll       = 500 * time.Millisecond
	defaultPlainEvery = 10 * time.Second
)

// display is what Watch draws on: plain lines or live bars.
type display interface {
	// update shows the runs as read at now.
	update(runs []store.Run, now time.Time)
	// note prints one line of its own, such as a Source error.
	note(line string)
	// stop ends the display, leaving runs that have not ended as they are.
	stop()
}

// Watch shows progress until every run from src has ended or ctx ends, and
// returns the last states read. A Source error that is not ctx's is printed
// once per outage and polling goes on, since the database being briefly
// unreachable does not end the runs. Watch returns an error only when ctx
// ends first: ctx.Err(), with the last states read (nil if none was).
// When src reports no runs at all, there is nothing to wait for and Watch
// returns at once.
func Watch(ctx context.Context, src Source, o Options) ([]store.Run, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	var d display
	if o.Interactive {
		d = newBars(o)
	} else {
		d = newPlain(o)
	}
	defer d.stop()

	ticker := time.NewTicker(cmp.Or(o.Poll, defaultPoll))
	defer ticker.Stop()
	var last []store.Run
	failing := false
	for {
		runs, err := src(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			if !failing {
				d.note(fmt.Sprintf("poll-error err=%q", err.Error()))
			}
			failing = true
		} else {
			failing = false
			last = runs
			d.update(runs, time.Now())
			if allEnded(runs) {
				return runs, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-ticker.C:
		}
	}
}

// allEnded reports whether no run is still running.
func allEnded(runs []store.Run) bool {
	for _, r := range runs {
		if !r.Finished() {
			return false
		}
	}
	return true
}
