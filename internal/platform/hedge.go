package platform

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Hedger is what a Limiter also implements to let the client hedge: Hedge
// books a slot for a second copy of a request of clientID only when it
// costs the client's other work nothing, counting any request sent within
// quiet before now as work that may still need a slot, and says whether it
// did (ratelimit.Limiter.Hedge).
type Hedger interface {
	Hedge(ctx context.Context, clientID string, quiet time.Duration) (bool, error)
}

// errHedgeLost is what the slower copy of a hedged request gets from decode
// once the other copy's answer was taken.
var errHedgeLost = errors.New("the other copy of the request answered first")

// hedged sends r and, if it has not answered within the endpoint's usual
// latency and the limiter grants a spare slot (Hedger), sends a second copy
// of it: the first success wins and the other copy is cancelled. A request
// that hung (the platform does not answer some) then costs about its usual
// latency twice instead of the whole timeout. A refused hedge is asked for
// again every quarter of the usual latency until the request ends: the
// slot may be free a moment later (the gap after the newest send, a recent
// request that has answered meanwhile). Without a usual latency yet, a
// Hedger, or on an endpoint that is not counted, it is one exchange.
//
// Written by hand: hedging libraries retry on their own clock and know
// nothing of a rate budget, which here decides whether a copy may go.
func (c *Client) hedged(ctx context.Context, r request, decode func([]byte) error) *Error {
	h, ok := c.opts.Limiter.(Hedger)
	usual := c.Latency(r.endpoint).Usual
	if !ok || usual <= 0 || r.endpoint == EndpointAuth {
		return c.do(ctx, r, decode)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	once := &firstDecode{decode: decode}
	answers := make(chan *Error, 2)
	send := func() { answers <- c.do(ctx, r, once.run) }
	go send()
	timer := time.NewTimer(usual)
	defer timer.Stop()
	for granted := false; !granted; {
		select {
		case e := <-answers:
			return e
		case <-timer.C:
		}
		var err error
		if granted, err = h.Hedge(ctx, r.clientID, usual); err != nil {
			c.opts.Logger.DebugContext(ctx, "platform: no hedge", "client_id", r.clientID, "error", err)
			return <-answers
		}
		timer.Reset(max(usual/4, time.Millisecond))
	}
	if c.opts.Observer != nil {
		c.opts.Observer.Hedged(r.clientID, r.endpoint)
	}
	go send()
	first := <-answers
	if first == nil {
		return nil
	}
	// The first copy failed: the other may still succeed.
	if second := <-answers; second == nil || errors.Is(second, errHedgeLost) {
		return second
	}
	return first
}

// firstDecode lets one copy of a hedged request decode its answer into the
// caller's result, and refuses every later one: the copies run at once, and
// the caller's result must hold one answer, not a mix.
type firstDecode struct {
	mu     sync.Mutex
	decode func([]byte) error
	done   bool
}

func (f *firstDecode) run(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return errHedgeLost
	}
	if err := f.decode(b); err != nil {
		return err
	}
	f.done = true
	return nil
}
