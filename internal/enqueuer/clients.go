package enqueuer

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/adsync/adsync/internal/clients"
	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/store"
)

// clientsCmd lists the configured clients, as the configuration says now,
// with each one's latest run. It never shows a password.
func clientsCmd(ctx context.Context, e *env, args []string) (int, error) {
	fs := newFlags("clients", e.stderr)
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	list, err := e.configuredClients()
	if err != nil {
		return 0, err
	}
	st, err := e.store(ctx)
	if err != nil {
		return 0, err
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	latest, err := st.LatestRuns(ctx, ids)
	if err != nil {
		return 0, err
	}
	writeClients(e, list, latest, time.Now())
	return ExitOK, nil
}

// writeClients prints one row per client: its login name and its latest
// run's id, status, when it ended (or started, while running), and counts.
func writeClients(e *env, list []config.Client, latest []store.LatestRun, now time.Time) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tEMAIL\tLAST RUN\tSTATUS\tWHEN\tSAVED\tDEAD")
	for i, c := range list {
		r := latest[i].Run
		if r == nil {
			fmt.Fprintf(tw, "%s\t%s\t-\tnever synced\t-\t-\t-\n", c.ID, c.Email)
			continue
		}
		when := r.StartedAt
		if r.FinishedAt != nil {
			when = *r.FinishedAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s (%s ago)\t%d\t%d\n", c.ID, c.Email, r.ID, r.Status,
			when.UTC().Format(time.RFC3339), now.Sub(when).Round(time.Second), r.CampaignsSaved, r.CampaignsDead)
	}
	_ = tw.Flush() // a failed write to the terminal has nowhere better to be reported
}

// configuredClients reads the client list as the configuration says now:
// a long-running command (schedule) calls it again to follow changes.
func (e *env) configuredClients() ([]config.Client, error) {
	list, err := clients.FromConfig(e.cfg).Load()
	if err != nil {
		return nil, usageError{err}
	}
	return list, nil
}
