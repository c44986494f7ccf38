package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adsync/adsync/bench/benchkit"
)

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
		s.workers += benchkit.ProcessCPU(w.PID())
	}
	s.mock = benchkit.ProcessCPU(mock.PID())
	s.redis = benchkit.RedisCPU(ctx)
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
		s.postgres[pid] = benchkit.ProcessCPU(pid)
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
