package progress

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/adsync/adsync/internal/store"
)

// Summary writes the final table of runs, one row per run in the given
// order, so that the operator sees at a glance which client needs a look
// and why. The duration of a run still running is its time so far.
func Summary(w io.Writer, runs []store.Run) {
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tRUN\tSTATUS\tPAGES\tSAVED\tDEAD\tSEEN\tDURATION\tREASON")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d/%d\t%d\t%d\t%d\t%s\t%s\n",
			r.ClientID, r.ID, r.Status, r.PagesDone, r.PagesPlanned,
			r.CampaignsSaved, r.CampaignsDead, r.CampaignsSeen, duration(r, now), oneLine(r.Reason))
	}
	_ = tw.Flush() // a failed write to the terminal has nowhere better to be reported
}

// oneLine collapses runs of white space, newlines and tabs included, so a
// reason keeps to its row and column.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ExitCode is the enqueuer's exit status for runs: 0 when every run ended
// done (or there is none), 1 otherwise — a run done_with_failures (a record
// ended in the dead-letter queue), incomplete (its listing ended short),
// failed, or still running because the wait was cut short. The caller uses
// 2 for bad usage.
func ExitCode(runs []store.Run) int {
	for _, r := range runs {
		if r.Status != store.StatusDone {
			return 1
		}
	}
	return 0
}
