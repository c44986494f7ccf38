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
//
// Callers add their items to a list under a mutex and the writer takes
// them from it, so an item costs its caller no hand-off to another
// goroutine: only the writer is woken, once per batch, and then each caller
// once, with its outcome.
type Batcher[T any] struct {
	write WriteFunc[T]
	opts  Options

	// room holds a place for each item taken and not yet written: callers
	// wait for a place when 2*MaxBatch items are in, which bounds memory.
	room    chan struct{}
	closing chan struct{} // closed by Close: callers waiting for room give up

	mu      sync.Mutex
	closed  bool
	pending []*request[T]
	// wake tells the writer that pending has changed in a way it waits
	// for: it went from empty to not, it holds a full batch, or Close.
	wake chan struct{}

	stopped chan struct{} // closed when the writer has answered every item
}

// request is one caller's item and where its outcome goes.
type request[T any] struct {
	ctx  context.Context
	item T
	done chan error // buffered, so the writer never waits for a caller that left
	at   time.Time  // when it was taken: a batch lingers MaxWait from its first item's
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
		room:    make(chan struct{}, 2*o.MaxBatch),
		closing: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
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

// enqueue takes r for the next batch, once there is room for it.
func (b *Batcher[T]) enqueue(r *request[T]) error {
	select {
	case b.room <- struct{}{}:
	case <-b.closing:
		return ErrClosed
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.room
		return ErrClosed
	}
	r.at = time.Now()
	b.pending = append(b.pending, r)
	n := len(b.pending)
	b.mu.Unlock()
	if n == 1 || n == b.opts.MaxBatch {
		b.signal()
	}
	return nil
}

// signal wakes the writer if it waits; a wake already pending will do.
func (b *Batcher[T]) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Close stops taking items, writes every item already taken and returns
// when all their callers have their answer. It is safe to call more than
// once.
func (b *Batcher[T]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.closing)
	}
	b.mu.Unlock()
	b.signal()
	<-b.stopped
}

// next waits for the next batch and takes it: once MaxBatch items are in,
// or MaxWait after its first item was taken (at once when MaxWait is zero
// or the Batcher is closing). While the writer is busy the next batch keeps
// filling, so batches grow with the load and no item waits longer than it
// must. It returns nil once the Batcher is closed and nothing is left.
func (b *Batcher[T]) next(timer *time.Timer) []*request[T] {
	for {
		b.mu.Lock()
		n, closed := len(b.pending), b.closed
		var linger time.Duration
		if n > 0 && n < b.opts.MaxBatch && !closed && b.opts.MaxWait > 0 {
			linger = time.Until(b.pending[0].at.Add(b.opts.MaxWait))
		}
		if n > 0 && linger <= 0 {
			take := min(n, b.opts.MaxBatch)
			batch := make([]*request[T], take)
			copy(batch, b.pending)
			rest := copy(b.pending, b.pending[take:])
			clear(b.pending[rest:])
			b.pending = b.pending[:rest]
			b.mu.Unlock()
			return batch
		}
		b.mu.Unlock()
		switch {
		case n == 0 && closed:
			return nil
		case n == 0:
			<-b.wake
		default:
			timer.Reset(linger)
			select {
			case <-b.wake:
				timer.Stop()
			case <-timer.C:
			}
		}
	}
}

// flush writes the batches one after the other.
func (b *Batcher[T]) flush() {
	defer close(b.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch := b.next(timer)
		if batch == nil {
			return
		}
		live := batch[:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.done <- err // its caller has already returned ctx.Err()
				continue
			}
			live = append(live, r)
		}
		b.writeSplitting(live)
		for range batch {
			<-b.room
		}
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
