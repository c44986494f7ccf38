// Package batcher is group commit: items handed in by many concurrent
// callers are written together, one write call (one transaction) per batch,
// and each caller is answered only once its batch is written.
//
// Written by hand: general-purpose batching packages (such as
// google.golang.org/api/support/bundler) hand a batch to a handler in the
// background and keep its outcome from the callers, while here a task must
// not be acknowledged before its own row is committed, and a bad row must
// fail only its own task. So every caller waits for the outcome of its own
// item, and a batch whose error may come from one item is split until the
// item at fault fails alone.
package batcher

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by Do once Close has been called.
var ErrClosed = errors.New("batcher: closed")

// WriteFunc writes one batch as a whole: it succeeds for every item or
// fails for every item (one transaction).
type WriteFunc[T any] func(ctx context.Context, items []T) error

// Options bound a Batcher's memory and the latency it adds.
type Options struct {
	// MaxBatch is the most items one write call gets, and the number of
	// items that may wait in the queue besides; must be at least 1.
	MaxBatch int
	// MaxWait is the longest the first item of a batch waits for others to
	// join it before the batch is written. Zero writes whatever has arrived
	// as soon as the writer is free.
	MaxWait time.Duration
	// Timeout bounds one write call. Writes do not run under a caller's
	// context, so that one caller giving up cannot fail the others' batch.
	// Zero means 30 s.
	Timeout time.Duration
	// Isolate reports whether a batch's error may be caused by one of its
	// items (a constraint violation, a malformed value) rather than by the
	// database being unreachable. Such a batch is split in halves and each
	// half written again, down to single items, so that only the items at
	// fault fail. Nil never splits.
	Isolate func(error) bool
}

// Batcher groups the items of concurrent Do calls into batches, written one
// batch at a time by a single writer while the next batch fills up.
type Batcher[T any] struct {
	write WriteFunc[T]
	opts  Options

	mu     sync.RWMutex // held for reading while enqueueing, for writing by Close
	closed bool
	reqs   chan *request[T]

	batches chan []*request[T]
	stopped sync.WaitGroup
}

// request is one caller's item and where its outcome goes.
type request[T any] struct {
	ctx  context.Context
	item T
	done chan error // buffered, so the writer never waits for a caller that left
}

// New starts a Batcher that writes with write. Close it to flush what is
// pending and stop it.
func New[T any](write WriteFunc[T], o Options) *Batcher[T] {
	o.MaxBatch = max(o.MaxBatch, 1)
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	b := &Batcher[T]{
		write:   write,
		opts:    o,
		reqs:    make(chan *request[T], o.MaxBatch),
		batches: make(chan []*request[T]),
	}
	b.stopped.Add(2)
	go b.collect()
	go b.flush()
	return b
}

// Do adds item to the next batch and waits until that batch is written. It
// returns nil only when the item has been written (committed), the write's
// error for the item otherwise, ErrClosed after Close, or ctx.Err() when ctx
// ends first. In that last case the item may or may not be written: it is
// left out if its batch had not started, and written anyway if it had, so
// writes must be idempotent.
func (b *Batcher[T]) Do(ctx context.Context, item T) error {
	r := &request[T]{ctx: ctx, item: item, done: make(chan error, 1)}
	if err := b.enqueue(r); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Batcher[T]) enqueue(r *request[T]) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case b.reqs <- r:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// Close stops taking items, writes every item already taken and returns
// when all their callers have their answer. It is safe to call more than
// once.
func (b *Batcher[T]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.reqs)
	}
	b.mu.Unlock()
	b.stopped.Wait()
}

// collect builds batches: a batch starts with the first item to arrive and
// is handed to the writer once it is full, or MaxWait after it started and
// the writer is free. While the writer is busy the batch keeps filling, so
// batches grow with the load and no item waits longer than it must.
func (b *Batcher[T]) collect() {
	defer b.stopped.Done()
	defer close(b.batches)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	in := b.reqs
	for in != nil {
		first, ok := <-in
		if !ok {
			return
		}
		batch := []*request[T]{first}
		var linger <-chan time.Time
		if b.opts.MaxWait > 0 {
			timer.Reset(b.opts.MaxWait)
			linger = timer.C
		}
		for batch != nil {
			var recv <-chan *request[T]
			if len(batch) < b.opts.MaxBatch {
				recv = in
			}
			var send chan<- []*request[T]
			if linger == nil || len(batch) >= b.opts.MaxBatch {
				send = b.batches
			}
			select {
			case r, ok := <-recv:
				if !ok { // closing: write what we have, then stop
					in, linger = nil, nil
					continue
				}
				batch = append(batch, r)
			case <-linger:
				linger = nil
			case send <- batch:
				batch = nil
			}
		}
		timer.Stop()
	}
}

// flush writes the batches one after the other.
func (b *Batcher[T]) flush() {
	defer b.stopped.Done()
	for batch := range b.batches {
		live := batch[:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.done <- err // its caller has already returned ctx.Err()
				continue
			}
			live = append(live, r)
		}
		b.writeSplitting(live)
	}
}

// writeSplitting writes reqs in one call; when the call fails with an error
// that one item may have caused, it writes each half on its own instead.
func (b *Batcher[T]) writeSplitting(reqs []*request[T]) {
	if len(reqs) == 0 {
		return
	}
	items := make([]T, len(reqs))
	for i, r := range reqs {
		items[i] = r.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
	err := b.write(ctx, items)
	cancel()
	if err != nil && len(reqs) > 1 && b.opts.Isolate != nil && b.opts.Isolate(err) {
		half := len(reqs) / 2
		b.writeSplitting(reqs[:half])
		b.writeSplitting(reqs[half:])
		return
	}
	for _, r := range reqs {
		r.done <- err
	}
}
