package progress

import (
	"cmp"
	"fmt"
	"io"
	"time"

	"github.com/adsync/adsync/internal/store"
)

// plain prints progress as stable key=value lines (format in doc.go), for
// output that is not a terminal.
type plain struct {
	out       io.Writer
	o         Options
	lastPrint time.Time      // when progress lines were last printed; zero before the first
	ended     map[int64]bool // runs whose ended line is printed
}

func newPlain(o Options) *plain {
	o.PlainEvery = cmp.Or(o.PlainEvery, defaultPlainEvery)
	return &plain{out: o.Out, o: o, ended: make(map[int64]bool)}
}

// update prints an ended line for each run that ended since the last call,
// and, when PlainEvery has passed since the last ones, a progress line for
// each running run.
func (p *plain) update(runs []store.Run, now time.Time) {
	for _, r := range runs {
		if r.Finished() && !p.ended[r.ID] {
			p.ended[r.ID] = true
			p.endedLine(r, now)
		}
	}
	if !p.lastPrint.IsZero() && now.Sub(p.lastPrint) < p.o.PlainEvery {
		return
	}
	p.lastPrint = now
	for _, r := range runs {
		if !r.Finished() {
			p.progressLine(r)
		}
	}
}

func (p *plain) progressLine(r store.Run) {
	fmt.Fprintf(p.out, "progress client=%s run=%d status=%s pages=%d/%d saved=%d dead=%d seen=%d eta=%s\n",
		r.ClientID, r.ID, r.Status, r.PagesDone, r.PagesPlanned, r.CampaignsSaved, r.CampaignsDead, r.CampaignsSeen,
		ETA(r, p.o.RateLimit, p.o.RateWindow, p.o.PageSize))
}

func (p *plain) endedLine(r store.Run, now time.Time) {
	line := fmt.Sprintf("ended client=%s run=%d status=%s saved=%d dead=%d duration=%s",
		r.ClientID, r.ID, r.Status, r.CampaignsSaved, r.CampaignsDead, duration(r, now))
	if r.Reason != "" {
		line += fmt.Sprintf(" reason=%q", r.Reason)
	}
	fmt.Fprintln(p.out, line)
}

func (p *plain) note(line string) { fmt.Fprintln(p.out, line) }

// stop does nothing: every line is written as soon as it is known.
func (p *plain) stop() {}
