package benchkit

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Name is the command name (/proc/PID/comm) of the processes to follow,
	// e.g. "worker".
	Name string
	// Every is how often /proc is read; zero means 250 ms.
	Every time.Duration
	// Counters are metric families to read from each followed process's
	// /metrics (on its HTTP_ADDR) every ScrapeEvery; none means no scrape.
	Counters    []string
	ScrapeEvery time.Duration
}

// Watched is what a Watcher saw of one process.
type Watched struct {
	PID int
	// Start is when the process started, in clock ticks since boot (to
	// tell a reused PID); First and Last are when the watcher first and
	// last saw it alive.
	Start       uint64
	First, Last time.Time
	// CPU is its user and system time at the last reading: up to one
	// reading interval short of its total.
	CPU time.Duration
	// MaxRSSBytes is its peak resident set size (VmHWM) at the last reading.
	MaxRSSBytes uint64
	// Counters are the summed values of WatchOptions.Counters at the last
	// successful scrape.
	Counters map[string]float64
	// DatabaseURL is the process's DATABASE_URL (empty when it has none),
	// so a bench can read what its workers wrote once they have exited.
	DatabaseURL string
	addr        string
}

// Watcher follows, from outside, the processes of one name that descend
// from a root process: their CPU time, peak memory and counters. It lets
// a bench that runs another bench as a subprocess measure that bench's
// workers without changing it. Processes of the same name that other
// programs run on the machine are not descendants and are left out.
type Watcher struct {
	opts WatchOptions
	root int
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	seen map[int]*Watched
}

// Watch starts following the descendants of root named o.Name; Stop ends
// it and returns what was seen.
func Watch(root int, o WatchOptions) *Watcher {
	if o.Every <= 0 {
		o.Every = 250 * time.Millisecond
	}
	w := &Watcher{opts: o, root: root, stop: make(chan struct{}), done: make(chan struct{}), seen: map[int]*Watched{}}
	go w.loop()
	return w
}

func (w *Watcher) loop() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.Every)
	defer tick.Stop()
	var lastScrape time.Time
	for {
		w.read()
		if len(w.opts.Counters) > 0 && time.Since(lastScrape) >= w.opts.ScrapeEvery {
			w.scrape()
			lastScrape = time.Now()
		}
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

// read takes one reading of /proc. A process that exits between listing
// and reading is skipped: its previous reading stands.
func (w *Watcher) read() {
	procs, err := procfs.AllProcs()
	if err != nil {
		return
	}
	parent := make(map[int]int, len(procs))
	stats := make(map[int]procfs.ProcStat, len(procs))
	byPID := make(map[int]procfs.Proc, len(procs))
	for _, p := range procs {
		if st, err := p.Stat(); err == nil {
			parent[p.PID], stats[p.PID], byPID[p.PID] = st.PPID, st, p
		}
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, st := range stats {
		if st.Comm != w.opts.Name || !descends(pid, w.root, parent) {
			continue
		}
		rec := w.seen[pid]
		if rec == nil || rec.Start != st.Starttime { // a new process, or a reused PID
			env := environ(byPID[pid])
			rec = &Watched{PID: pid, Start: st.Starttime, First: now, DatabaseURL: env["DATABASE_URL"], addr: httpAddr(env)}
			w.seen[pid] = rec
		}
		rec.Last = now
		rec.CPU = time.Duration(st.CPUTime() * float64(time.Second))
		if status, err := byPID[pid].NewStatus(); err == nil {
			rec.MaxRSSBytes = max(rec.MaxRSSBytes, status.VmHWM)
		}
	}
}

// descends reports whether pid is a descendant of root.
func descends(pid, root int, parent map[int]int) bool {
	for depth := 0; pid > 1 && depth < 64; depth++ {
		pid = parent[pid]
		if pid == root {
			return true
		}
	}
	return false
}

// environ is the process's environment as it started, by name; nil when
// it cannot be read.
func environ(p procfs.Proc) map[string]string {
	kvs, err := p.Environ()
	if err != nil {
		return nil
	}
	env := make(map[string]string, len(kvs))
	for _, kv := range kvs { // the last assignment wins, as in the process
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// httpAddr is the loopback address of HTTP_ADDR in env, or "".
func httpAddr(env map[string]string) string {
	addr := env["HTTP_ADDR"]
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	return addr
}

// scrape reads the counters of every live followed process that has an
// ops address. A failed scrape (the process is starting or stopping)
// keeps the previous values.
func (w *Watcher) scrape() {
	w.mu.Lock()
	var live []*Watched
	for _, rec := range w.seen {
		if rec.addr != "" && time.Since(rec.Last) < 2*w.opts.Every {
			live = append(live, rec)
		}
	}
	w.mu.Unlock()
	for _, rec := range live {
		sums, err := SumCounters([]string{rec.addr}, w.opts.Counters...)
		if err != nil {
			continue
		}
		w.mu.Lock()
		rec.Counters = sums
		w.mu.Unlock()
	}
}

// Stop ends the watch and returns every process seen, oldest first.
func (w *Watcher) Stop() []Watched {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Watched, 0, len(w.seen))
	for _, rec := range w.seen {
		out = append(out, *rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].First.Before(out[j].First) })
	return out
}

// Generations splits processes (in the order Stop returns them) into the
// groups that ran one after another: a process starts a new group when it
// was first seen after every process of the current group was last seen.
// A bench that runs passes with fresh workers each time has one group per
// pass.
func Generations(procs []Watched) [][]Watched {
	var out [][]Watched
	var lastSeen time.Time
	for _, p := range procs {
		if len(out) == 0 || p.First.After(lastSeen) {
			out = append(out, nil)
			lastSeen = time.Time{}
		}
		out[len(out)-1] = append(out[len(out)-1], p)
		if p.Last.After(lastSeen) {
			lastSeen = p.Last
		}
	}
	return out
}
