package enqueuer

import (
	"context"
	"fmt"
)

func resumeCmd(ctx context.Context, e *env, args []string) (int, error) {
	fs := newFlags("resume", e.stderr)
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	starter, err := e.starter(ctx)
	if err != nil {
		return 0, err
	}
	resumed, err := starter.Resume(ctx)
	if err != nil {
		return 0, err
	}
	for _, r := range resumed {
		fmt.Fprintf(e.stdout, "run %d client=%s re-enqueued pages=%d records=%d; archived tasks recorded as dead letters=%d\n",
			r.RunID, r.ClientID, r.Pages, r.Items, r.Archived)
	}
	if len(resumed) == 0 {
		fmt.Fprintln(e.stdout, "no running runs")
	}
	return ExitOK, nil
}
