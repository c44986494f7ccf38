package enqueuer

import (
	"context"
	"fmt"
	"strconv"

	"github.com/adsync/adsync/internal/progress"
	"github.com/adsync/adsync/internal/store"
)

func statusCmd(ctx context.Context, e *env, args []string) (int, error) {
	fs := newFlags("status", e.stderr)
	limit := fs.Int("limit", 20, "how many recent runs to show")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	st, err := e.store(ctx)
	if err != nil {
		return 0, err
	}
	switch fs.NArg() {
	case 0:
		runs, err := st.RecentRuns(ctx, *limit)
		if err != nil {
			return 0, err
		}
		progress.Summary(e.stdout, runs)
		return ExitOK, nil
	case 1:
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || id <= 0 {
			return 0, usageError{fmt.Errorf("RUN must be a run id, got %q", fs.Arg(0))}
		}
		return runStatus(ctx, e, st, id)
	default:
		return 0, usageError{fmt.Errorf("at most one RUN, got %v", fs.Args())}
	}
}

func runStatus(ctx context.Context, e *env, st *store.Store, id int64) (int, error) {
	run, err := st.Run(ctx, id)
	if err != nil {
		return 0, err
	}
	progress.Summary(e.stdout, []store.Run{run})
	fmt.Fprintf(e.stdout, "\nlisting: %s; campaigns marked removed: %d\n", listingOf(run), run.CampaignsRemoved)
	dead, err := st.DeadLetters(ctx, id)
	if err != nil {
		return 0, err
	}
	if len(dead) > 0 {
		fmt.Fprintf(e.stdout, "\ndead letters of run %d:\n", id)
	}
	for _, d := range dead {
		state := "open"
		if d.ResolvedAt != nil {
			state = "resolved"
		}
		what := "record " + d.ItemKey
		if d.ItemKey == "" {
			what = fmt.Sprintf("page %d", d.Page)
		}
		fmt.Fprintf(e.stdout, "  %s (%s, task %s): %s\n", what, state, d.TaskID, d.Reason)
	}
	return ExitOK, nil
}

// listingOf says how the run's listing went: how many reconcile passes it
// made and what ended it short, if anything did.
func listingOf(r store.Run) string {
	s := "first pass"
	if r.ListPass > 0 {
		s = fmt.Sprintf("%d reconcile pass(es) after the listing moved", r.ListPass)
	}
	if r.ListingProblem != "" {
		s += "; ended short: " + r.ListingProblem
	}
	return s
}
