package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/bench/benchkit"
	"github.com/adsync/adsync/internal/store"
)

// Dedicated Redis database number and PostgreSQL database, wiped before each
// pass.
const (
	redisDB = 14
	dbName  = "adsync_bench"
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
	res := result{name: p.name, batch: p.batchSize}
	release, err := leaseRedisDB(ctx, redisDB)
	if err != nil {
		return res, err
	}
	defer release()
	env, err := benchkit.Fresh(ctx, redisDB, dbName)
	if err != nil {
		return res, err
	}
	res.dir = env.Dir
	if _, err := env.WriteClients(s.clients); err != nil {
		return res, err
	}
	mockAddr, err := benchkit.FreeAddr()
	if err != nil {
		return res, err
	}
	mockProc, err := env.Start("mockapi", map[string]string{
		"MOCK_ADDR": mockAddr, "MOCK_CAMPAIGNS": strconv.Itoa(s.campaigns), "MOCK_RATE_LIMIT": "0",
		"MOCK_FAIL_EVERY": "0", "MOCK_HANG_PERCENT": "0", "MOCK_SYNC_DELAY": "0s",
	})
	if err != nil {
		return res, err
	}
	defer mockProc.Stop()
	platformURL := "http://" + mockAddr
	if err := benchkit.WaitHTTP(platformURL+"/health", 10*time.Second); err != nil {
		return res, err
	}
	for k, v := range map[string]string{
		"PLATFORM_URL": platformURL, "PLATFORM_RATE_LIMIT": "1000000", "PLATFORM_RATE_WINDOW": "1s",
		"PAGE_SIZE": "100", "SYNC_CALL": "true", "HTTP_ADDR": "127.0.0.1:0",
		"WORKER_CONCURRENCY": s.concurrency, "WRITE_BATCH_SIZE": p.batchSize, "WRITE_BATCH_WAIT": p.batchWait,
	} {
		env.Vars[k] = v
	}
	if err := store.Migrate(ctx, env.DatabaseURL); err != nil {
		return res, err
	}
	st, err := store.Open(ctx, env.DatabaseURL)
	if err != nil {
		return res, err
	}
	defer st.Close()
	db, err := pgx.Connect(ctx, env.DatabaseURL) // the bench's statistics queries
	if err != nil {
		return res, err
	}
	defer db.Close(ctx)

	workers, err := startWorkers(env, s.workers)
	stopWorkers := sync.OnceFunc(func() {
		for _, w := range workers {
			w.Stop()
		}
	})
	defer stopWorkers()
	if err != nil {
		return res, err
	}
	before, err := sampleCPU(ctx, db, workers, mockProc)
	if err != nil {
		return res, err
	}
	var stopProfile func() (string, error)
	if p.profile {
		if stopProfile, err = startProfile(env.Dir, workers); err != nil {
			return res, err
		}
	}
	enq, err := env.Start("enqueuer", nil, "sync")
	if err != nil {
		return res, err
	}
	if err := enq.Wait(); err != nil {
		return res, fmt.Errorf("enqueuer sync: %w (log in %s)", err, env.Dir)
	}
	runs, err := benchkit.WaitRuns(ctx, st, 10*time.Minute)
	if err != nil {
		return res, err
	}
	after, err := sampleCPU(ctx, db, workers, mockProc)
	if err != nil {
		return res, err
	}
	res.cpu = after.since(before)
	if stopProfile != nil {
		if res.profileTop, err = stopProfile(); err != nil {
			return res, err
		}
	}
	for _, w := range workers {
		res.rssMB = max(res.rssMB, w.MaxRSSMB())
	}
	first, last := runs[0].StartedAt, *runs[0].FinishedAt
	for _, r := range runs {
		res.saved += r.CampaignsSaved
		first, last = minTime(first, r.StartedAt), maxTime(last, *r.FinishedAt)
	}
	res.wall = last.Sub(first)
	stopWorkers() // their PostgreSQL backends exit and flush their statistics
	err = db.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&res.commits)
	return res, err
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
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: "127.0.0.1:6379", DB: redisDB})
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

// leaseRedisDB takes the lease that internal/testenv gives a test on a Redis
// database number, waiting while a test holds it, so that `make test`
// running at the same time never has its database flushed by the bench.
// The returned function gives the lease back.
func leaseRedisDB(ctx context.Context, db int) (func(), error) {
	admin := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 0})
	key := fmt.Sprintf("adsync:testenv:redisdb:%d", db) // testenv's lease key
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ok, err := admin.SetNX(ctx, key, "bench-throughput", 30*time.Minute).Result()
		if err != nil {
			_ = admin.Close()
			return nil, fmt.Errorf("lease Redis DB %d: %w", db, err)
		}
		if ok {
			return func() { _ = admin.Del(context.Background(), key).Err(); _ = admin.Close() }, nil
		}
		if time.Now().After(deadline) {
			_ = admin.Close()
			return nil, fmt.Errorf("redis DB %d stayed leased by a test for 5 minutes", db)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
