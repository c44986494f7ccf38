package batcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a WriteFunc that keeps every batch it wrote and fails a batch
// that holds a bad item, naming it.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	bad     map[int]bool
}

var errBad = errors.New("bad item")

func (rec *recorder) write(_ context.Context, items []int) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, it := range items {
		if rec.bad[it] {
			return fmt.Errorf("item %d: %w", it, errBad)
		}
	}
	rec.batches = append(rec.batches, slices.Clone(items))
	return nil
}

func (rec *recorder) written() []int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []int
	for _, b := range rec.batches {
		out = append(out, b...)
	}
	slices.Sort(out)
	return out
}

// doAll runs Do for items 0..n-1 concurrently and returns each outcome.
func doAll(b *Batcher[int], n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = b.Do(context.Background(), i) })
	}
	wg.Wait()
	return errs
}

// Concurrent callers share batches no larger than MaxBatch, and each item is
// written exactly once.
func TestConcurrentCallersShareBatches(t *testing.T) {
	rec := &recorder{}
	b := New(rec.write, Options{MaxBatch: 50, MaxWait: 5 * time.Millisecond})
	defer b.Close()
	for _, err := range doAll(b, 1000) {
		require.NoError(t, err)
	}
	want := make([]int, 1000)
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, rec.written())
	largest := 0
	for _, batch := range rec.batches {
		largest = max(largest, len(batch))
	}
	require.LessOrEqual(t, largest, 50)
	require.Greater(t, largest, 1, "concurrent items were grouped")
	require.Less(t, len(rec.batches), 1000)
}

// A bad item fails only its own caller, with its own error; the batch is
// split in halves, not retried item by item.
func TestBadItemFailsAlone(t *testing.T) {
	rec := &recorder{bad: map[int]bool{7: true, 300: true}}
	var calls atomic.Int64
	write := func(ctx context.Context, items []int) error { calls.Add(1); return rec.write(ctx, items) }
	b := New(write, Options{MaxBatch: 1000, MaxWait: 50 * time.Millisecond, Isolate: func(err error) bool { return errors.Is(err, errBad) }})
	defer b.Close()
	errs := doAll(b, 512)
	for i, err := range errs {
		if i == 7 || i == 300 {
			require.ErrorIs(t, err, errBad)
			require.ErrorContains(t, err, fmt.Sprintf("item %d:", i))
			continue
		}
		require.NoError(t, err, "item %d", i)
	}
	require.Len(t, rec.written(), 510)
	require.Less(t, calls.Load(), int64(100), "bisected, not item by item")
}

// An error that no item caused (the database is down) fails the whole batch
// at once, without splitting it.
func TestBatchWideErrorIsNotSplit(t *testing.T) {
	down := errors.New("connection refused")
	var calls atomic.Int64
	write := func(context.Context, []int) error { calls.Add(1); return down }
	b := New(write, Options{MaxBatch: 100, MaxWait: time.Hour, Isolate: func(err error) bool { return errors.Is(err, errBad) }})
	reqs := enqueueAll(t, b, 20)
	b.Close() // hands the lingering batch to the writer
	for _, r := range reqs {
		require.ErrorIs(t, <-r.done, down)
	}
	require.Equal(t, int64(1), calls.Load())
}

// enqueueAll puts items 0..n-1 in b's queue and returns their requests: when
// it returns, every item has been taken.
func enqueueAll(t *testing.T, b *Batcher[int], n int) []*request[int] {
	t.Helper()
	reqs := make([]*request[int], n)
	for i := range reqs {
		reqs[i] = &request[int]{ctx: context.Background(), item: i, done: make(chan error, 1)}
		require.NoError(t, b.enqueue(reqs[i]))
	}
	return reqs
}

// No caller is answered before the write of its batch has returned.
func TestNothingAcknowledgedBeforeWrite(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	write := func(context.Context, []int) error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	}
	b := New(write, Options{MaxBatch: 10})
	defer b.Close()
	var returned atomic.Int64
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { require.NoError(t, b.Do(context.Background(), i)); returned.Add(1) })
	}
	<-entered
	require.Never(t, func() bool { return returned.Load() > 0 }, 100*time.Millisecond, 10*time.Millisecond)
	close(release)
	wg.Wait()
	require.Equal(t, int64(10), returned.Load())
}

// Close writes every item already taken, even one waiting for its batch to
// fill, and answers its caller; Do after Close fails at once.
func TestCloseFlushesPending(t *testing.T) {
	rec := &recorder{}
	b := New(rec.write, Options{MaxBatch: 100, MaxWait: time.Hour})
	reqs := enqueueAll(t, b, 30)
	b.Close()
	for _, r := range reqs {
		require.NoError(t, <-r.done)
	}
	require.Len(t, rec.written(), 30)
	require.ErrorIs(t, b.Do(context.Background(), 99), ErrClosed)
	b.Close()
}

// A caller whose context ends gets ctx.Err() at once; an item whose caller
// left before its batch started is not written.
func TestCallerContextEnds(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{}
	var once sync.Once
	write := func(ctx context.Context, items []int) error {
		once.Do(func() { close(entered); <-release })
		return rec.write(ctx, items)
	}
	b := New(write, Options{MaxBatch: 1})
	defer b.Close()
	go func() { _ = b.Do(context.Background(), 1) }() // holds the writer
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Do(ctx, 2) }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	close(release)
	require.NoError(t, b.Do(context.Background(), 3))
	require.NotContains(t, rec.written(), 2)
}
