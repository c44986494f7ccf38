package clients

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch follows the configuration until ctx ends: it re-reads the list
// after a notification about one of the Source's files (or a `..` entry
// of their directories, as a Kubernetes Secret volume swaps them), and
// every Interval in any case. Without file notifications (the watcher
// cannot start) it keeps to the periodic re-read and says so once.
func (l *Live) Watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		l.log.WarnContext(ctx, "clients: no file notifications; re-reading periodically only",
			"interval", l.opts.Interval, "error", err.Error())
	} else {
		defer func() { _ = w.Close() }()
	}
	dirs := map[string]bool{}
	names := map[string]bool{}
	follow := func() {
		if w == nil || l.src.Paths == nil {
			return
		}
		for _, p := range l.src.Paths() {
			names[filepath.Base(p)] = true
			for _, d := range dirsOf(p) {
				if dirs[d] {
					continue
				}
				if err := w.Add(d); err != nil {
					l.log.WarnContext(ctx, "clients: cannot watch a directory; relying on the periodic re-read",
						"dir", d, "error", err.Error())
					continue
				}
				dirs[d] = true
			}
		}
	}
	follow()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	tick := time.NewTicker(l.opts.Interval)
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if base := filepath.Base(ev.Name); names[base] || strings.HasPrefix(base, "..") {
				settle.Reset(l.opts.Settle)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			l.log.WarnContext(ctx, "clients: file notification error; the periodic re-read still runs", "error", err.Error())
		case <-settle.C:
			l.reloadQuietly(ctx)
			follow()
		case <-tick.C:
			l.reloadQuietly(ctx)
			follow()
		}
	}
}

// reloadQuietly reloads; Reload has already logged a refusal.
func (l *Live) reloadQuietly(ctx context.Context) {
	_, _ = l.Reload(ctx)
}

// dirsOf returns the directory of path and, when path is a symbolic link
// into another directory, that one too: a change written behind the link
// shows only there.
func dirsOf(path string) []string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	out := []string{filepath.Dir(abs)}
	if real, err := filepath.EvalSymlinks(abs); err == nil && filepath.Dir(real) != out[0] {
		out = append(out, filepath.Dir(real))
	}
	return out
}
