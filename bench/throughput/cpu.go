package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adsync/adsync/bench/benchkit"
)

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuUse is the CPU time each part of the system spent during a pass, and
// how the machine's CPU was shared.
type cpuUse struct {
	machine                        benchkit.MachineShare
	workers, postgres, redis, mock time.Duration
}

// cpuSample is a reading of CPU times: per process, and the machine's.
type cpuSample struct {
	workers, mock, redis time.Duration
	postgres             map[int]time.Duration // per backend serving the bench database
	machine              benchkit.MachineCPU
}

// sampleCPU reads the CPU times of the workers, the mock, the Redis server
// and the PostgreSQL backends connected to the bench database. A backend
// that ends between two samples is missed; the workers' pooled connections
// live for the whole pass.
func sampleCPU(ctx context.Context, db *pgx.Conn, workers []*benchkit.Process, mock *benchkit.Process) (cpuSample, error) {
	s := cpuSample{postgres: map[int]time.Duration{}}
	for _, w := range workers {
		s.workers += processCPU(w.PID())
	}
	s.mock = processCPU(mock.PID())
	for _, pid := range pidsNamed("redis-server") {
		s.redis += processCPU(pid)
	}
	rows, err := db.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return s, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return s, err
	}
	for _, pid := range pids {
		s.postgres[pid] = processCPU(pid)
	}
	s.machine, err = benchkit.ReadMachineCPU()
	return s, err
}

// since is the CPU used between an earlier sample and s.
func (s cpuSample) since(earlier cpuSample) cpuUse {
	u := cpuUse{workers: s.workers - earlier.workers, mock: s.mock - earlier.mock, redis: s.redis - earlier.redis,
		machine: s.machine.Since(earlier.machine)}
	for pid, t := range s.postgres {
		u.postgres += t - earlier.postgres[pid]
	}
	return u
}

// processCPU is a process's user and system time so far (fields 14 and 15
// of /proc/PID/stat, after the command name in parentheses).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// pidsNamed lists the processes whose command name is name.
func pidsNamed(name string) []int {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	var out []int
	for _, c := range comms {
		b, err := os.ReadFile(c) // #nosec G304 -- a /proc/<pid>/comm path from the glob above
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(c))); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
