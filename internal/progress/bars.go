package progress

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/adsync/adsync/internal/store"
)

// barWidth is the width of the filled part of a bar, kept small so that a
// bar's line, with its label and counters, fits a terminal.
const barWidth = 24

// bars draws one mpb bar per run: total is the best-known number of the
// run's records, current those whose sync has ended, saved or dead.
type bars struct {
	p    *mpb.Progress
	o    Options
	runs map[int64]*runBar
}

// runBar is one run's bar and the run's latest state, which the bar's
// decorators read from mpb's goroutine.
type runBar struct {
	bar   *mpb.Bar
	state atomic.Pointer[store.Run]
	ended bool // the bar is completed or aborted and no longer updated
}

// newBars starts an mpb container writing to o.Out. Ended bars pop above the
// running ones and are no longer redrawn, so that many runs stay readable;
// extra options are added after these.
func newBars(o Options, extra ...mpb.ContainerOption) *bars {
	opts := append([]mpb.ContainerOption{mpb.WithOutput(o.Out), mpb.PopCompletedMode()}, extra...)
	return &bars{p: mpb.New(opts...), o: o, runs: make(map[int64]*runBar)}
}

// update moves each run's bar to the run's state. A bar completes when its
// run ends done or done_with_failures, and is aborted, left part filled,
// when the run failed; either way its last column shows the final status.
func (b *bars) update(runs []store.Run, _ time.Time) {
	for _, r := range runs {
		rb := b.runs[r.ID]
		if rb == nil {
			rb = b.add(r)
			b.runs[r.ID] = rb
		}
		if rb.ended {
			continue
		}
		rb.state.Store(&r)
		switch {
		case r.Status == store.StatusFailed, r.Status == store.StatusIncomplete:
			rb.bar.SetCurrent(int64(endedRecords(r)))
			rb.bar.Abort(false)
			rb.ended = true
		case r.Finished():
			rb.bar.SetTotal(int64(endedRecords(r)), true)
			rb.ended = true
		default:
			rb.bar.SetTotal(int64(expectedRecords(r, b.o.PageSize)), false)
			rb.bar.SetCurrent(int64(endedRecords(r)))
		}
	}
}

// add creates the bar of run r. Its total starts unknown (0), so that only
// update's explicit completion ends it, never current catching up with an
// estimate.
func (b *bars) add(r store.Run) *runBar {
	rb := &runBar{}
	rb.state.Store(&r)
	rb.bar = b.p.AddBar(0,
		mpb.BarWidth(barWidth),
		mpb.PrependDecorators(decor.Name(fmt.Sprintf("%s #%d", r.ClientID, r.ID), decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				s := rb.state.Load()
				return fmt.Sprintf("saved %d dead %d pages %d/%d", s.CampaignsSaved, s.CampaignsDead, s.PagesDone, s.PagesPlanned)
			}, decor.WCSyncSpaceR),
			decor.Any(func(decor.Statistics) string {
				s := rb.state.Load()
				if s.Finished() {
					return s.Status
				}
				return "eta " + ETA(*s, b.o.RateLimit, b.o.RateWindow, b.o.PageSize).String()
			}, decor.WCSyncSpaceR),
		),
	)
	return rb
}

// note prints line above the bars.
func (b *bars) note(line string) { fmt.Fprintln(b.p, line) }

// stop aborts the bars of runs still running, leaving them drawn as they
// are, and waits for mpb's last frame.
func (b *bars) stop() {
	for _, rb := range b.runs {
		if !rb.ended {
			rb.bar.Abort(false)
		}
	}
	b.p.Wait()
}
