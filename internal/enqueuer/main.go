// Package enqueuer is the enqueuer command: it starts sync runs, waits for
// them with progress, shows their status, resumes them after Redis lost its
// queues, and schedules them periodically.
package enqueuer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/logging"
)

// Exit codes of the enqueuer.
const (
	ExitOK       = 0
	ExitFailures = 1
	ExitUsage    = 2
)

const usage = `usage:
  enqueuer sync [--client ID]... [--wait]   start one run per client (all configured clients by default)
  enqueuer status [RUN]                     recent runs and their counts, or one run in detail
  enqueuer resume                           re-enqueue the unfinished work of running runs (after Redis lost its data)
  enqueuer schedule --every DURATION        start runs of all clients periodically until stopped
  enqueuer clients                          the configured clients and their latest run (never a password)
Configuration comes from environment variables: see README.md.`

// Help prints the usage to stderr when args ask for it (help, -h, --help)
// or name no command, and returns the exit code and true; otherwise it
// returns false. It needs no configuration, so that cmd/enqueuer answers
// --help before loading one.
func Help(args []string, stderr io.Writer) (code int, done bool) {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
		return 0, false
	}
	fmt.Fprintln(stderr, usage)
	if len(args) == 0 {
		return ExitUsage, true
	}
	return ExitOK, true
}

// Main runs the enqueuer with args (without the program name) under the
// configuration cfg, and returns the process exit code. The caller loads
// cfg (cmd/enqueuer with config.Load), so that tests run the commands side
// by side, each with a configuration of its own; only what cfg itself
// points at is read from outside (the clients file and the variables or
// files its passwords name).
func Main(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if code, done := Help(args, stderr); done {
		return code
	}
	log := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
	cmd, rest := args[0], args[1:]
	var run func(context.Context, *env, []string) (int, error)
	switch cmd {
	case "sync":
		run = syncCmd
	case "status":
		run = statusCmd
	case "resume":
		run = resumeCmd
	case "schedule":
		run = scheduleCmd
	case "clients":
		run = clientsCmd
	default:
		fmt.Fprintf(stderr, "enqueuer: unknown command %q\n%s\n", cmd, usage)
		return ExitUsage
	}
	e := &env{cfg: cfg, log: log, stdout: stdout, stderr: stderr}
	defer e.close()
	code, err := run(ctx, e, rest)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "enqueuer %s: %v\n", cmd, err)
		return ExitUsage
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case err != nil:
		log.Error("enqueuer failed", "command", cmd, "error", err.Error())
		return ExitFailures
	}
	return code
}

// usageError is bad usage or configuration: exit code 2.
type usageError struct{ error }

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("enqueuer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}
