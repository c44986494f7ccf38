package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/adsync/adsync/bench/benchkit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/testenv"
)

// pass is one sync of every client under one write configuration.
type pass struct {
	name                 string
	batchSize, batchWait string
	profile              bool
}

// runPass syncs every client once on a fresh database and Redis database
// and measures it.
func runPass(ctx context.Context, s settings, p pass) (result, error) {
	res := result{name: p.name, batch: p.batchSize, wait: p.batchWait}
	d, err := deploy(ctx, s, p)
	if d != nil {
		defer d.close()
		res.dir = d.env.Dir
	}
	if err != nil {
		return res, err
	}
	before, err := sampleCPU(ctx, d.db, d.workers, d.mock)
	if err != nil {
		return res, err
	}
	var stopProfile func() (string, error)
	if p.profile {
		if stopProfile, err = startProfile(d.env.Dir, d.workers); err != nil {
			return res, err
		}
	}
	enq, err := d.env.Start("enqueuer", nil, "sync")
	if err != nil {
		return res, err
	}
	if err := enq.Wait(); err != nil {
		return res, fmt.Errorf("enqueuer sync: %w (log in %s)", err, d.env.Dir)
	}
	// A loaded machine has taken the one-commit pass close to ten minutes.
	runs, err := benchkit.WaitRuns(ctx, d.st, 30*time.Minute)
	if err != nil {
		return res, err
	}
	after, err := sampleCPU(ctx, d.db, d.workers, d.mock)
	if err != nil {
		return res, err
	}
	res.cpu = after.since(before)
	if stopProfile != nil {
		if res.profileTop, err = stopProfile(); err != nil {
			return res, err
		}
	}
	for _, w := range d.workers {
		res.rssMB = max(res.rssMB, w.MaxRSSMB())
	}
	first, last := runs[0].StartedAt, *runs[0].FinishedAt
	for _, r := range runs {
		res.saved += r.CampaignsSaved
		first, last = minTime(first, r.StartedAt), maxTime(last, *r.FinishedAt)
	}
	res.wall = last.Sub(first)
	d.stopWorkers() // their PostgreSQL backends exit and flush their statistics
	err = d.db.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&res.commits)
	return res, err
}

// deployment is one pass's running system: the mock, the workers, and the
// bench's own connections to the database.
type deployment struct {
	env         *benchkit.Env
	mock        *benchkit.Process
	workers     []*benchkit.Process
	st          *store.Store // the ledger, read through adsync's store
	db          *pgx.Conn    // the bench's statistics queries
	stopWorkers func()
	closers     []func()
}

// deploy starts the mock and the workers on a fresh database and a leased,
// flushed Redis database. On error the deployment returned, if any, holds
// what was started, for close.
func deploy(ctx context.Context, s settings, p pass) (*deployment, error) {
	// Leased like the tests' Redis databases, so that a test running
	// meanwhile never flushes the bench's queues, nor the bench a test's.
	redisDB, release, err := testenv.LeaseRedisDB(ctx, time.Hour)
	if err != nil {
		return nil, err
	}
	d := &deployment{closers: []func(){release}, stopWorkers: func() {}}
	if d.env, err = benchkit.Fresh(ctx, redisDB, "throughput"); err != nil {
		return d, err
	}
	if _, err := d.env.WriteClients(s.clients); err != nil {
		return d, err
	}
	mockAddr, err := benchkit.FreeAddr()
	if err != nil {
		return d, err
	}
	if d.mock, err = d.env.Start("mockapi", map[string]string{
		"MOCK_ADDR": mockAddr, "MOCK_CAMPAIGNS": strconv.Itoa(s.campaigns), "MOCK_RATE_LIMIT": "0",
		"MOCK_FAIL_EVERY": "0", "MOCK_HANG_PERCENT": "0", "MOCK_SYNC_DELAY": "0s",
	}); err != nil {
		return d, err
	}
	d.closers = append(d.closers, d.mock.Stop)
	platformURL := "http://" + mockAddr
	if err := benchkit.WaitHTTP(platformURL+"/health", 10*time.Second); err != nil {
		return d, err
	}
	for k, v := range map[string]string{
		"PLATFORM_URL": platformURL, "PLATFORM_RATE_LIMIT": "1000000", "PLATFORM_RATE_WINDOW": "1s",
		"PAGE_SIZE": "100", "SYNC_CALL": "true", "HTTP_ADDR": "127.0.0.1:0",
		"WORKER_CONCURRENCY": strconv.Itoa(s.concurrency), "WRITE_BATCH_SIZE": p.batchSize, "WRITE_BATCH_WAIT": p.batchWait,
	} {
		if v != "" { // unset: the worker's default
			d.env.Vars[k] = v
		}
	}
	if err := store.Migrate(ctx, d.env.DatabaseURL); err != nil {
		return d, err
	}
	if d.st, err = store.Open(ctx, d.env.DatabaseURL); err != nil {
		return d, err
	}
	d.closers = append(d.closers, d.st.Close)
	if d.db, err = pgx.Connect(ctx, d.env.DatabaseURL); err != nil {
		return d, err
	}
	d.closers = append(d.closers, func() { _ = d.db.Close(context.Background()) })
	d.workers, err = startWorkers(d.env, s.workers)
	d.stopWorkers = sync.OnceFunc(func() {
		for _, w := range d.workers {
			w.Stop()
		}
	})
	d.closers = append(d.closers, d.stopWorkers)
	return d, err
}

// close stops what deploy started, last started first.
func (d *deployment) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// startWorkers starts n worker processes and waits until each has
// registered with asynq, so the clock starts on a ready fleet.
func startWorkers(env *benchkit.Env, n int) ([]*benchkit.Process, error) {
	var procs []*benchkit.Process
	for range n {
		p, err := env.Start("worker", nil)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
	}
	opt, err := asynq.ParseRedisURI(env.RedisURL)
	if err != nil {
		return procs, err
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		servers, err := insp.Servers()
		if err == nil && len(servers) >= n {
			return procs, nil
		}
		if time.Now().After(deadline) {
			return procs, fmt.Errorf("%d worker(s) did not register with asynq within 30s (logs in %s)", n, env.Dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
