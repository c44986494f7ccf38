package enqueuer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/adsync/adsync/internal/progress"
	"github.com/adsync/adsync/internal/store"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func syncCmd(ctx context.Context, e *env, args []string) (int, error) {
	fs := newFlags("sync", e.stderr)
	var only stringList
	fs.Var(&only, "client", "client id to sync (repeatable; default: every configured client)")
	wait := fs.Bool("wait", false, "show progress until the runs end; exit 1 if any record was dead-lettered or a run failed")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	ids, err := e.clientIDs(only)
	if err != nil {
		return 0, err
	}
	starter, err := e.starter(ctx)
	if err != nil {
		return 0, err
	}
	started, err := starter.Start(ctx, ids)
	if err != nil {
		return 0, err
	}
	runIDs := make([]int64, 0, len(started))
	for _, s := range started {
		note := ""
		if s.Skipped {
			note = " (already in progress; not started again)"
		}
		fmt.Fprintf(e.stdout, "run %d client=%s%s\n", s.RunID, s.ClientID, note)
		runIDs = append(runIDs, s.RunID)
	}
	if !*wait {
		return ExitOK, nil
	}
	final, err := progress.Watch(ctx, func(ctx context.Context) ([]store.Run, error) {
		return e.st.Runs(ctx, runIDs)
	}, progress.Options{
		Out: e.stdout, Interactive: progress.IsTerminal(e.stdout),
		Poll: 500 * time.Millisecond, PlainEvery: 10 * time.Second,
		RateLimit: e.cfg.RateLimit, RateWindow: e.cfg.RateWindow, PageSize: e.cfg.PageSize,
	})
	if err != nil {
		return 0, err
	}
	progress.Summary(e.stdout, final)
	return progress.ExitCode(final), nil
}

// clientIDs returns the configured clients' ids, or the named ones after
// checking that each is configured.
func (e *env) clientIDs(only []string) ([]string, error) {
	clients, err := e.configuredClients()
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(clients))
	ids := make([]string, 0, len(clients))
	for _, c := range clients {
		known[c.ID] = true
		ids = append(ids, c.ID)
	}
	if len(only) == 0 {
		return ids, nil
	}
	for _, id := range only {
		if !known[id] {
			return nil, usageError{fmt.Errorf("client %q is not configured", id)}
		}
	}
	return only, nil
}
