// Command queue is `make bench-queue`: the floor under bench-throughput. It
// measures what asynq alone costs on this machine, with nothing else in a
// task: TASKS save tasks (default 100,000) enqueued through adsync's own
// enqueue path (tasks.Queue, as a page's fan-out does), then taken and
// finished by WORKERS processes (default 2) whose handler does nothing.
//
// A save task cannot cost the machine less CPU than this, since adsync
// keeps one task per campaign, so the machine's CPU per task here bounds
// bench-throughput from above: cores / (CPU per task) tasks per second, with
// no sync call, rate budget or write at all. It prints a table and one
// RESULT line.
package main

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

	"github.com/adsync/adsync/bench/benchkit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// childEnv names the Redis database a child process serves; its presence
// makes the process a no-op worker instead of the bench.
const childEnv = "ADSYNC_BENCH_QUEUE_REDIS_DB"

func main() {
	var err error
	if db := os.Getenv(childEnv); db != "" {
		err = serve(db)
	} else {
		err = run(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-queue:", err)
		os.Exit(1)
	}
}

// phase is what one phase of the bench measured.
type phase struct {
	name    string
	tasks   int
	wall    time.Duration
	machine benchkit.MachineShare
	// bench, workers and redis are the CPU time of this process, the
	// worker processes and the Redis server during the phase.
	bench, workers, redis time.Duration
}

func (p phase) perSecond() float64 { return float64(p.tasks) / p.wall.Seconds() }

// machineCPUPerTask is the CPU time the whole machine spent per task.
func (p phase) machineCPUPerTask() time.Duration {
	return time.Duration(p.machine.Busy * float64(p.wall) * float64(runtime.NumCPU()) / float64(p.tasks))
}

func run(ctx context.Context) error {
	n := benchkit.EnvInt("TASKS", 100_000)
	workers := benchkit.EnvInt("WORKERS", 2)
	concurrency := benchkit.EnvInt("WORKER_CONCURRENCY", 100)
	fmt.Printf("bench-queue: %d save tasks, %d worker processes x %d concurrency, handlers that do nothing\n", n, workers, concurrency)

	redisDB, release, err := testenv.LeaseRedisDB(ctx, time.Hour)
	if err != nil {
		return err
	}
	defer release()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: redisDB})
	defer func() { _ = rdb.Close() }()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis database %d: %w", redisDB, err)
	}

	enqueue, err := measure("enqueue", n, func() error { return enqueueSaves(ctx, rdb, n) })
	if err != nil {
		return err
	}
	var children []*exec.Cmd
	defer func() { stopAll(children) }()
	process, err := measure("take and finish", n, func() error {
		children, err = startChildren(workers, redisDB, concurrency)
		if err != nil {
			return err
		}
		return waitDrained(ctx, rdb, n)
	})
	if err != nil {
		return err
	}
	// The workers started with the phase, so all their CPU time is its.
	for _, c := range children {
		process.workers += benchkit.ProcessCPU(c.Process.Pid)
	}

	phases := []phase{enqueue, process}
	printTable(phases)
	perTask := enqueue.machineCPUPerTask() + process.machineCPUPerTask()
	ceiling := float64(runtime.NumCPU()) * float64(time.Second) / float64(perTask)
	fmt.Printf("machine CPU per task, enqueue and take-and-finish: %.0f µs: on %d cores, at most %.0f tasks/s with nothing else in them\n",
		float64(perTask)/float64(time.Microsecond), runtime.NumCPU(), ceiling)
	fmt.Printf("RESULT bench=queue tasks=%d workers=%d enqueue_per_s=%.0f per_s=%.0f cpu_us_per_task=%.0f ceiling_per_s=%.0f\n",
		n, workers, enqueue.perSecond(), process.perSecond(), float64(perTask)/float64(time.Microsecond), ceiling)
	return nil
}

// measure runs f and reads the CPU the machine, this process and Redis
// spent on it.
func measure(name string, n int, f func() error) (phase, error) {
	before, err := benchkit.ReadMachineCPU()
	if err != nil {
		return phase{}, err
	}
	self, redisBefore := benchkit.ProcessCPU(os.Getpid()), benchkit.CPUOfProcessesNamed("redis-server")
	start := time.Now()
	if err := f(); err != nil {
		return phase{}, fmt.Errorf("%s: %w", name, err)
	}
	p := phase{name: name, tasks: n, wall: time.Since(start)}
	after, err := benchkit.ReadMachineCPU()
	if err != nil {
		return phase{}, err
	}
	p.machine = after.Since(before)
	p.bench = benchkit.ProcessCPU(os.Getpid()) - self
	p.redis = benchkit.CPUOfProcessesNamed("redis-server") - redisBefore
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

// startChildren starts the no-op worker processes: this program again, with
// childEnv set.
func startChildren(workers, redisDB, concurrency int) ([]*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program: %w", err)
	}
	var out []*exec.Cmd
	for range workers {
		cmd := exec.Command(self) // #nosec G204 -- this very program, re-run as a worker
		cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(redisDB), "WORKER_CONCURRENCY="+strconv.Itoa(concurrency))
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

// serve is a worker process that takes tasks and does nothing with them,
// configured like adsync's workers, until SIGTERM.
func serve(db string) error {
	redisDB, err := strconv.Atoi(db)
	if err != nil {
		return fmt.Errorf("%s: %w", childEnv, err)
	}
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: testenv.RedisAddr(), DB: redisDB}, asynq.Config{
		Concurrency:       benchkit.EnvInt("WORKER_CONCURRENCY", 100),
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

func printTable(phases []phase) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\ttasks\twall_s\tper_s\tcpu_busy\tcpu_steal\tcpu_bench_s\tcpu_workers_s\tcpu_redis_s\tmachine_cpu_us_per_task\t")
	for _, p := range phases {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.0f%%\t%.0f%%\t%.1f\t%.1f\t%.1f\t%.0f\t\n",
			p.name, p.tasks, p.wall.Seconds(), p.perSecond(), 100*p.machine.Busy, 100*p.machine.Steal,
			p.bench.Seconds(), p.workers.Seconds(), p.redis.Seconds(), float64(p.machineCPUPerTask())/float64(time.Microsecond))
	}
	_ = tw.Flush()
	fmt.Println("(cpu_busy: share of the machine's CPU its own processes used; cpu_steal: share the hypervisor gave to " +
		"other machines; machine_cpu_us_per_task: the machine's busy CPU time over the phase, per task)")
}
