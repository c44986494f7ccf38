package progress

import (
	"context"
	"io"
	"time"

	"github.com/adsync/adsync/internal/store"
)

// started is the StartedAt of every run in these tests.
var started = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// running returns a running run of client with the given counters.
func running(id int64, client string, planned, done, seen, saved, dead int) store.Run {
	return store.Run{
		ID: id, ClientID: client, Status: store.StatusRunning,
		PagesPlanned: planned, PagesDone: done,
		CampaignsSeen: seen, CampaignsSaved: saved, CampaignsDead: dead,
		StartedAt: started,
	}
}

// ended returns r ended with status after took.
func ended(r store.Run, status string, took time.Duration) store.Run {
	r.Status = status
	finished := r.StartedAt.Add(took)
	r.FinishedAt = &finished
	return r
}

// step is what one read of a scripted source returns.
type step struct {
	runs []store.Run
	err  error
}

// scripted is a Source that returns steps in turn, then the last one for
// ever; calls counts its reads. Watch reads it from one goroutine only.
type scripted struct {
	steps []step
	calls int
}

func (s *scripted) read(context.Context) ([]store.Run, error) {
	st := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	return st.runs, st.err
}

// okSteps turns lists of runs into steps without errors.
func okSteps(lists ...[]store.Run) []step {
	steps := make([]step, len(lists))
	for i, l := range lists {
		steps[i] = step{runs: l}
	}
	return steps
}

// fastPlain is Options for plain output into out, polled as fast as the
// test runs, with a progress line at every poll.
func fastPlain(out io.Writer) Options {
	return Options{
		Out: out, Poll: time.Millisecond, PlainEvery: time.Nanosecond,
		RateLimit: 10, RateWindow: time.Minute, PageSize: 10,
	}
}
