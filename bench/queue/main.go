// Command queue is `make bench-queue`: the floor under bench-throughput. It
// measures what asynq alone costs on this machine, with nothing else in a
// task: TASKS save tasks (default 100,000) enqueued through adsync's own
// enqueue path (tasks.Queue, as a page's fan-out does), then taken and
// finished by WORKERS processes (default 2) whose handler does nothing.
//
// A save task cannot cost the machine less CPU than this, since adsync
// keeps one task per campaign, so the machine's CPU per task here bounds
// bench-throughput from above: cores / (CPU per task) tasks per second, with
// no sync call, rate budget or write at all. bench-throughput runs the same
// pass (benchkit.RunQueuePass) in its own invocation and reports its
// campaigns per second as a share of this one. It prints a table and one
// RESULT line.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/adsync/adsync/bench/benchkit"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench-queue:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if child, err := benchkit.ServeNoopWorker(); child {
		return err
	}
	s := benchkit.QueueSettings{
		Tasks:       benchkit.EnvInt("TASKS", 100_000),
		Workers:     benchkit.EnvInt("WORKERS", 2),
		Concurrency: benchkit.EnvInt("WORKER_CONCURRENCY", 100),
	}
	fmt.Printf("bench-queue: %d save tasks, %d worker processes x %d concurrency, handlers that do nothing\n",
		s.Tasks, s.Workers, s.Concurrency)
	res, err := benchkit.RunQueuePass(ctx, s)
	if err != nil {
		return err
	}
	fmt.Println()
	benchkit.PrintQueueTable(res)
	perTask := res.Enqueue.MachineCPUPerTask() + res.Process.MachineCPUPerTask()
	ceiling := float64(runtime.NumCPU()) * float64(time.Second) / float64(perTask)
	fmt.Printf("machine CPU per task, enqueue and take-and-finish: %.0f µs: on %d cores, at most %.0f tasks/s with nothing else in them\n",
		float64(perTask)/float64(time.Microsecond), runtime.NumCPU(), ceiling)
	fmt.Printf("RESULT bench=queue tasks=%d workers=%d enqueue_per_s=%.0f per_s=%.0f cpu_us_per_task=%.0f ceiling_per_s=%.0f\n",
		s.Tasks, s.Workers, res.Enqueue.PerSecond(), res.Process.PerSecond(), float64(perTask)/float64(time.Microsecond), ceiling)
	return nil
}
