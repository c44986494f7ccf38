package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// noopServerEnv names the Redis database a no-op worker process serves;
// its presence makes a bench program a no-op worker instead of the bench.
const noopServerEnv = "ADSYNC_BENCH_NOOP_WORKER_REDIS_DB"

// QueueSettings size asynq's no-op pass: the same numbers as the adsync
// pass it is the ceiling of.
type QueueSettings struct {
	Tasks, Workers, Concurrency int
}

// QueuePhase is what one phase of the no-op pass measured.
type QueuePhase struct {
	Name    string
	Tasks   int
	Wall    time.Duration
	Machine MachineShare
	// Bench, Workers and Redis are the CPU time of the bench process, the
	// worker processes and the Redis server during the phase.
	Bench, Workers, Redis time.Duration
}

// PerSecond is tasks per second of wall time.
func (p QueuePhase) PerSecond() float64 { return float64(p.Tasks) / p.Wall.Seconds() }

// MachineCPUPerTask is the CPU time the whole machine spent per task.
func (p QueuePhase) MachineCPUPerTask() time.Duration {
	return time.Duration(p.Machine.Busy * float64(p.Wall) * float64(runtime.NumCPU()) / float64(p.Tasks))
}

// Plus is p and q taken as one phase: their tasks, wall and CPU times
// added, the machine's shares weighted by wall time.
func (p QueuePhase) Plus(q QueuePhase) QueuePhase {
	wall := p.Wall + q.Wall
	share := func(a, b float64) float64 {
		if wall <= 0 {
			return 0
		}
		return (a*float64(p.Wall) + b*float64(q.Wall)) / float64(wall)
	}
	return QueuePhase{Name: p.Name, Tasks: p.Tasks + q.Tasks, Wall: wall,
		Machine: MachineShare{Busy: share(p.Machine.Busy, q.Machine.Busy), Steal: share(p.Machine.Steal, q.Machine.Steal)},
		Bench:   p.Bench + q.Bench, Workers: p.Workers + q.Workers, Redis: p.Redis + q.Redis}
}

// QueueResult is the no-op pass: enqueueing the tasks, then taking and
// finishing them.
type QueueResult struct {
	Enqueue, Process QueuePhase
}

// ServeNoopWorker makes this process a no-op worker when a no-op pass
// started it (RunQueuePass re-runs its own program): it serves until
// SIGTERM and reports true. Call it first in main; false means this is the
// bench itself.
func ServeNoopWorker() (bool, error) {
	db := os.Getenv(noopServerEnv)
	if db == "" {
		return false, nil
	}
	return true, serveNoop(db)
}

// RunQueuePass measures what asynq alone costs on this machine, with
// nothing else in a task: s.Tasks save tasks enqueued through adsync's own
// enqueue path (tasks.Queue, as a page's fan-out does), then taken and
// finished by s.Workers processes of s.Concurrency whose handler does
// nothing. A save task cannot cost less than this, so Process.PerSecond is
// the ceiling of adsync's campaigns per second on the same machine.
func RunQueuePass(ctx context.Context, s QueueSettings) (QueueResult, error) {
	var res QueueResult
	redisDB, release, err := testenv.LeaseRedisDB(ctx, time.Hour)
	if err != nil {
		return res, err
	}
	defer release()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: redisDB})
	defer func() { _ = rdb.Close() }()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return res, fmt.Errorf("flush redis database %d: %w", redisDB, err)
	}
	defer func() { _ = rdb.FlushDB(context.Background()).Err() }()

	if res.Enqueue, err = measure("enqueue", s.Tasks, func() error { return enqueueSaves(ctx, rdb, s.Tasks) }); err != nil {
		return res, err
	}
	var children []*exec.Cmd
	defer func() { stopAll(children) }()
	res.Process, err = measure("take and finish", s.Tasks, func() error {
		children, err = startNoopWorkers(s.Workers, redisDB, s.Concurrency)
		if err != nil {
			return err
		}
		return waitDrained(ctx, rdb, s.Tasks)
	})
	if err != nil {
		return res, err
	}
	// The workers started with the phase, so all their CPU time is its.
	for _, c := range children {
		res.Process.Workers += ProcessCPU(c.Process.Pid)
	}
	return res, nil
}

// measure runs f and reads the CPU the machine, this process and Redis
// spent on it.
func measure(name string, n int, f func() error) (QueuePhase, error) {
	before, err := ReadMachineCPU()
	if err != nil {
		return QueuePhase{}, err
	}
	self, redisBefore := ProcessCPU(os.Getpid()), RedisCPU(context.Background())
	start := time.Now()
	if err := f(); err != nil {
		return QueuePhase{}, fmt.Errorf("%s: %w", name, err)
	}
	p := QueuePhase{Name: name, Tasks: n, Wall: time.Since(start)}
	after, err := ReadMachineCPU()
	if err != nil {
		return QueuePhase{}, err
	}
	p.Machine = after.Since(before)
	p.Bench = ProcessCPU(os.Getpid()) - self
	p.Redis = RedisCPU(context.Background()) - redisBefore
	return p, nil
}

// pageSize is how many save tasks one enqueue call fans out, as a page of
// bench-throughput does, and pagesAtOnce how many pages are enqueued
// concurrently.
const pageSize, pagesAtOnce = 100, 8

// enqueueSaves enqueues n save tasks with a payload the size of a real
// campaign's, through tasks.Queue.
func enqueueSaves(ctx context.Context, rdb *redis.Client, n int) error {
	client := asynq.NewClientFromRedisClient(rdb)
	q := tasks.NewQueue(client, 3, time.Minute)
	record := []byte(`{"id":"campaign_0000","name":"Spring \"sale\"; ünïcode","status":"active","budget":1234.56,` +
		`"impressions":123456,"clicks":2345,"conversions":123,"created_at":"2026-01-01T00:00:00Z"}`)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(pagesAtOnce)
	for page := 0; page*pageSize < n; page++ {
		items := make([]store.Item, min(pageSize, n-page*pageSize))
		for i := range items {
			items[i] = store.Item{Key: fmt.Sprintf("campaign_%d", page*pageSize+i), Record: record}
		}
		g.Go(func() error { return q.EnqueueSaves(ctx, 1, "client-001", page+1, items, nil) })
	}
	return g.Wait()
}

// startNoopWorkers starts the no-op worker processes: this program again,
// with noopServerEnv set.
func startNoopWorkers(workers, redisDB, concurrency int) ([]*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program: %w", err)
	}
	var out []*exec.Cmd
	for range workers {
		cmd := exec.Command(self) // #nosec G204 -- this very program, re-run as a worker
		cmd.Env = append(os.Environ(), noopServerEnv+"="+strconv.Itoa(redisDB), "WORKER_CONCURRENCY="+strconv.Itoa(concurrency))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			stopAll(out)
			return nil, fmt.Errorf("start a worker process: %w", err)
		}
		out = append(out, cmd)
	}
	return out, nil
}

func stopAll(cmds []*exec.Cmd) {
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	}
}

// waitDrained waits until the workers have finished all n tasks.
func waitDrained(ctx context.Context, rdb *redis.Client, n int) error {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		info, err := insp.GetQueueInfo(tasks.QueueSaves)
		if err != nil {
			return fmt.Errorf("read queue %s: %w", tasks.QueueSaves, err)
		}
		if info.Size == 0 && info.ProcessedTotal >= n {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%d tasks not finished after 30 minutes", n)
}

// serveNoop is a worker process that takes tasks and does nothing with
// them, configured like adsync's workers, until SIGTERM.
func serveNoop(db string) error {
	redisDB, err := strconv.Atoi(db)
	if err != nil {
		return fmt.Errorf("%s: %w", noopServerEnv, err)
	}
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: testenv.RedisAddr(), DB: redisDB}, asynq.Config{
		Concurrency:       EnvInt("WORKER_CONCURRENCY", 100),
		Queues:            tasks.QueueWeights,
		TaskCheckInterval: 100 * time.Millisecond,
		LogLevel:          asynq.WarnLevel,
	})
	noop := asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })
	if err := srv.Start(noop); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	srv.Shutdown()
	return nil
}

// PrintQueueTable prints the phases of one or more no-op passes as a table.
func PrintQueueTable(results ...QueueResult) {
	var phases []QueuePhase
	for _, r := range results {
		phases = append(phases, r.Enqueue, r.Process)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\ttasks\twall_s\tper_s\tcpu_busy\tcpu_steal\tcpu_bench_s\tcpu_workers_s\tcpu_redis_s\tmachine_cpu_us_per_task\t")
	for _, p := range phases {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.0f%%\t%.0f%%\t%.1f\t%.1f\t%.1f\t%.0f\t\n",
			p.Name, p.Tasks, p.Wall.Seconds(), p.PerSecond(), 100*p.Machine.Busy, 100*p.Machine.Steal,
			p.Bench.Seconds(), p.Workers.Seconds(), p.Redis.Seconds(), float64(p.MachineCPUPerTask())/float64(time.Microsecond))
	}
	_ = tw.Flush()
	fmt.Println("(cpu_busy: share of the machine's CPU its own processes used; cpu_steal: share the hypervisor gave to " +
		"other machines; machine_cpu_us_per_task: the machine's busy CPU time over the phase, per task)")
}
