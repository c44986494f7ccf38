package platform

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The endpoints of the platform, as the Observer, the metrics and the
// learned timeouts name them.
const (
	// EndpointAuth is POST /auth/token.
	EndpointAuth = "auth"
	// EndpointList is GET /api/campaigns.
	EndpointList = "list"
	// EndpointSync is POST /api/campaigns/{id}/sync.
	EndpointSync = "sync"
)

// endpoints lists every endpoint, in the order of Timeouts' arrays.
var endpoints = [...]string{EndpointAuth, EndpointList, EndpointSync}

// endpointIndex returns the index of a known endpoint, or -1.
func endpointIndex(endpoint string) int {
	return slices.Index(endpoints[:], endpoint)
}

// Defaults of TimeoutOptions, applied where a field is left zero.
const (
	// DefaultTimeoutFloor matches PLATFORM_TIMEOUT_FLOOR's default: about
	// three times a sync call at the mock's time scale 60 (33 ms), far
	// below one at the real pace (2 s), where the learned value is above
	// it anyway; it keeps a fast endpoint's timeout above the pauses of a
	// busy machine.
	DefaultTimeoutFloor = 100 * time.Millisecond
	// DefaultTimeoutFactor matches PLATFORM_TIMEOUT_FACTOR's default.
	DefaultTimeoutFactor = 2.0
	// DefaultTimeoutMinSamples is how many successful requests of an
	// endpoint must be on record before its timeout follows them.
	DefaultTimeoutMinSamples = 20
	// DefaultTimeoutSamples is how many of an endpoint's latest outcomes
	// are kept in Redis.
	DefaultTimeoutSamples = 200
	// DefaultTimeoutRefresh is how often a process sends its new samples
	// and reads the shared ones back.
	DefaultTimeoutRefresh = time.Second
	// DefaultTimeoutSampleTTL is how long an endpoint's samples outlive
	// its last request: a worker that starts within a day of the last run
	// starts with the learned timeouts.
	DefaultTimeoutSampleTTL = 24 * time.Hour
	// DefaultTimeoutKeyPrefix starts every Redis key of Timeouts when
	// TimeoutOptions.KeyPrefix is empty.
	DefaultTimeoutKeyPrefix = "adsync:platform:"
)

// coldRefresh is how often a request sent while its endpoint's latency
// was not yet learned looks whether it has been since, and how often the
// latencies are refreshed while such a request is in flight: at a cold
// start the first answers come within milliseconds of each other, and a
// request that the platform never answers should not wait a whole Refresh
// to learn that it is late.
const coldRefresh = 25 * time.Millisecond

// timeoutPercentile is the share of successful requests a timeout is
// derived from: the timeout is Factor times the latency this share of them
// stayed within.
const timeoutPercentile = 0.99

// TimeoutObserver is told the timeout of each endpoint whenever Timeouts
// computes it, for a gauge.
type TimeoutObserver interface {
	// Timeout reports that requests to endpoint are now given d.
	Timeout(endpoint string, d time.Duration)
}

// TimeoutOptions configure Client.LearnTimeouts. Zero values take the
// documented defaults.
type TimeoutOptions struct {
	// Floor is the least timeout an endpoint is given, however fast it has
	// been (PLATFORM_TIMEOUT_FLOOR). A floor above Options.Timeout is
	// Options.Timeout. Zero means DefaultTimeoutFloor.
	Floor time.Duration
	// Factor multiplies the observed 99th percentile latency of an
	// endpoint's successful requests into its timeout
	// (PLATFORM_TIMEOUT_FACTOR); at least 1. Zero means
	// DefaultTimeoutFactor.
	Factor float64
	// MinSamples is how many successful requests must be on record before
	// the timeout follows them; until then it is Options.Timeout. Zero
	// means DefaultTimeoutMinSamples.
	MinSamples int
	// Samples is how many of an endpoint's latest outcomes are kept, in
	// Redis and per process between two refreshes. Zero means
	// DefaultTimeoutSamples.
	Samples int
	// Refresh is how often samples are sent to Redis and the timeouts
	// computed again. Zero means DefaultTimeoutRefresh.
	Refresh time.Duration
	// SampleTTL is how long samples are kept after an endpoint's last
	// recorded outcome. Zero means DefaultTimeoutSampleTTL.
	SampleTTL time.Duration
	// KeyPrefix starts every Redis key. Empty means
	// DefaultTimeoutKeyPrefix.
	KeyPrefix string
	// Observer, if set, is told every endpoint's timeout at each refresh.
	Observer TimeoutObserver
	// Logger receives a warning when Redis cannot be reached (and a line
	// when it can again); nil discards them.
	Logger *slog.Logger
}

// Latency is what a Client knows of one endpoint's latency: the timeout
// its requests are given now and the figures it was derived from, for a
// caller that acts on "slower than usual" (a hedged request).
type Latency struct {
	// Timeout is how long a request to the endpoint is given.
	Timeout time.Duration
	// Usual is the latency that 99% of the endpoint's recorded successful
	// requests stayed within, and Median the one half did; both zero
	// while fewer than TimeoutOptions.MinSamples are on record.
	Usual, Median time.Duration
	// Samples is how many successful requests the figures come from.
	Samples int
}

// Timeouts learns each endpoint's timeout from the latencies of its
// successful requests, shared by every worker through Redis: a request
// that never gets an answer is given up after about the endpoint's usual
// latency times Factor, not after the ceiling (Options.Timeout). Every
// process records the outcome of each of its requests locally; once per
// Refresh it pushes them to a bounded list per endpoint in Redis and reads
// the list back, so the hot path costs a mutex and an append. Build it
// with Client.LearnTimeouts; Stop ends it.
//
// The rule, per endpoint, over the last Samples outcomes on record:
//
//   - fewer than MinSamples successes: the ceiling;
//   - more requests cut by their timeout than answered: the ceiling, for
//     the platform has become slower than what was learned and a timeout
//     below its new latency would cut every request (requests that never
//     get an answer, a tenth of them on the reference platform, stay well
//     below half);
//   - otherwise the 99th percentile of the successes times Factor, within
//     [Floor, ceiling].
type Timeouts struct {
	rdb     redis.UniversalClient
	ceiling time.Duration
	floor   time.Duration
	opts    TimeoutOptions

	latency [len(endpoints)]atomic.Pointer[Latency]
	// followers counts the requests in flight that wait for their
	// endpoint's first learned timeout (follow).
	followers atomic.Int32

	mu      sync.Mutex
	pending [len(endpoints)][]int64 // outcomes not yet in Redis: µs, negative when cut
	failing bool                    // the last refresh could not reach Redis

	stop context.CancelFunc
	done chan struct{}
}

// LearnTimeouts makes every request's timeout follow its endpoint's
// latency as recorded by all processes that share rdb (see Timeouts),
// within [o.Floor, Options.Timeout]. It reads what is on record before it
// returns, so a worker that starts after others have learned starts with
// their timeouts; a Redis that cannot be read then leaves the ceiling in
// place, and is tried again at every refresh. The refreshes go on until
// ctx ends or Stop is called; the timeouts then stay as last computed. Call
// it at most once, before the client's first request.
func (c *Client) LearnTimeouts(ctx context.Context, rdb redis.UniversalClient, o TimeoutOptions) (*Timeouts, error) {
	if rdb == nil {
		return nil, errors.New("platform: learn timeouts: nil Redis client")
	}
	if o.Floor < 0 || o.MinSamples < 0 || o.Samples < 0 || o.Refresh < 0 || o.SampleTTL < 0 ||
		(o.Factor != 0 && (o.Factor < 1 || math.IsInf(o.Factor, 0) || math.IsNaN(o.Factor))) {
		return nil, errors.New("platform: learn timeouts: negative Floor, MinSamples, Samples, Refresh or SampleTTL, or a Factor below 1")
	}
	o.Floor = cmp.Or(o.Floor, DefaultTimeoutFloor)
	o.Factor = cmp.Or(o.Factor, DefaultTimeoutFactor)
	o.MinSamples = cmp.Or(o.MinSamples, DefaultTimeoutMinSamples)
	o.Samples = max(cmp.Or(o.Samples, DefaultTimeoutSamples), o.MinSamples)
	o.Refresh = cmp.Or(o.Refresh, DefaultTimeoutRefresh)
	o.SampleTTL = cmp.Or(o.SampleTTL, DefaultTimeoutSampleTTL)
	o.KeyPrefix = cmp.Or(o.KeyPrefix, DefaultTimeoutKeyPrefix)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Timeouts{rdb: rdb, ceiling: c.opts.Timeout, floor: min(o.Floor, c.opts.Timeout), opts: o, done: make(chan struct{})}
	for i := range endpoints {
		t.latency[i].Store(&Latency{Timeout: t.ceiling})
	}
	if !c.timeouts.CompareAndSwap(nil, t) {
		return nil, errors.New("platform: learn timeouts: already learning")
	}
	// The gauge starts at the ceiling even if Redis cannot be read now.
	for i, e := range endpoints {
		t.publish(i, e, Latency{Timeout: t.ceiling})
	}
	t.refresh(ctx)
	var loop context.Context
	loop, t.stop = context.WithCancel(ctx)
	go t.run(loop)
	return t, nil
}

// Latency returns what the client knows of endpoint's latency: with
// LearnTimeouts, what Timeouts learned; without, the ceiling
// Options.Timeout and no figures.
func (c *Client) Latency(endpoint string) Latency {
	if t := c.timeouts.Load(); t != nil {
		return t.Latency(endpoint)
	}
	return Latency{Timeout: c.opts.Timeout}
}

// Stop ends the refreshes after sending the samples not yet sent, and
// returns when they have ended. Safe to call more than once.
func (t *Timeouts) Stop() {
	t.stop()
	<-t.done
}

// run refreshes every Refresh until ctx ends, then sends what is left.
func (t *Timeouts) run(ctx context.Context) {
	defer close(t.done)
	tick := time.NewTicker(min(t.opts.Refresh, coldRefresh))
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-tick.C:
			if t.followers.Load() > 0 || time.Since(last) >= t.opts.Refresh {
				t.refresh(ctx)
				last = time.Now()
			}
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.opts.Refresh)
			t.refresh(last)
			cancel()
			return
		}
	}
}

// Latency returns what is known of endpoint's latency now; an unknown
// endpoint gets the ceiling.
func (t *Timeouts) Latency(endpoint string) Latency {
	i := endpointIndex(endpoint)
	if i < 0 {
		return Latency{Timeout: t.ceiling}
	}
	return *t.latency[i].Load()
}

// follow shortens d, the deadline of a request to endpoint sent before the
// endpoint's latency was learned, to the learned timeout as soon as there
// is one; it returns then, or when the request ends. Meanwhile the
// latencies are refreshed every coldRefresh.
func (t *Timeouts) follow(ctx context.Context, endpoint string, d *deadline) {
	t.followers.Add(1)
	defer t.followers.Add(-1)
	tick := time.NewTicker(coldRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if l := t.Latency(endpoint); l.Usual > 0 {
			d.shorten(l.Timeout)
			return
		}
	}
}

// record notes one finished request of endpoint: answered after d, or cut
// by its timeout d. Outcomes beyond Samples per refresh are dropped: the
// list in Redis keeps no more than that anyway.
func (t *Timeouts) record(endpoint string, d time.Duration, cut bool) {
	i := endpointIndex(endpoint)
	if i < 0 {
		return
	}
	us := max(d.Microseconds(), 1)
	if cut {
		us = -us
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending[i]) < t.opts.Samples {
		t.pending[i] = append(t.pending[i], us)
	}
}

// key is the Redis list of an endpoint's outcomes; the hash tag keeps each
// endpoint's list whole on one Cluster node.
func (t *Timeouts) key(endpoint string) string {
	return t.opts.KeyPrefix + "{" + endpoint + "}:latency"
}

// refresh sends the pending outcomes and recomputes every endpoint's
// timeout from the lists, in one round trip. If Redis cannot be reached the
// outcomes are kept for the next refresh and the timeouts stay.
func (t *Timeouts) refresh(ctx context.Context) {
	t.mu.Lock()
	pending := t.pending
	t.pending = [len(endpoints)][]int64{}
	t.mu.Unlock()

	var lists [len(endpoints)]*redis.StringSliceCmd
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range endpoints {
			key := t.key(e)
			if n := len(pending[i]); n > 0 {
				values := make([]any, n)
				for j, v := range pending[i] {
					values[j] = v
				}
				p.LPush(ctx, key, values...)
				p.LTrim(ctx, key, 0, int64(t.opts.Samples-1))
				p.PExpire(ctx, key, t.opts.SampleTTL)
			}
			lists[i] = p.LRange(ctx, key, 0, int64(t.opts.Samples-1))
		}
		return nil
	})
	if err != nil {
		t.keep(pending)
		t.mu.Lock()
		first := !t.failing
		t.failing = true
		t.mu.Unlock()
		if first {
			t.opts.Logger.WarnContext(ctx, "platform: cannot share request latencies; timeouts stay as they are", "error", err)
		}
		return
	}
	t.mu.Lock()
	recovered := t.failing
	t.failing = false
	t.mu.Unlock()
	if recovered {
		t.opts.Logger.InfoContext(ctx, "platform: request latencies shared again")
	}
	for i, e := range endpoints {
		t.publish(i, e, t.derive(parseSamples(lists[i].Val())))
	}
}

// keep puts outcomes that could not be sent back in front of the pending
// ones, within Samples per endpoint.
func (t *Timeouts) keep(unsent [len(endpoints)][]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range endpoints {
		all := append(unsent[i], t.pending[i]...)
		t.pending[i] = all[max(0, len(all)-t.opts.Samples):]
	}
}

// parseSamples reads a list's values; values that are not numbers
// (written by something else) are skipped.
func parseSamples(values []string) []int64 {
	out := make([]int64, 0, len(values))
	for _, s := range values {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && v != 0 {
			out = append(out, v)
		}
	}
	return out
}

// derive applies the rule (see Timeouts) to an endpoint's outcomes:
// positive values are successes, negative ones cuts, both in µs.
func (t *Timeouts) derive(samples []int64) Latency {
	var ok []time.Duration
	cuts := 0
	for _, v := range samples {
		if v < 0 {
			cuts++
			continue
		}
		ok = append(ok, time.Duration(v)*time.Microsecond)
	}
	if len(ok) < t.opts.MinSamples {
		return Latency{Timeout: t.ceiling, Samples: len(ok)}
	}
	slices.Sort(ok)
	l := Latency{Usual: percentile(ok, timeoutPercentile), Median: percentile(ok, 0.5), Samples: len(ok), Timeout: t.ceiling}
	if cuts <= len(ok) {
		scaled := time.Duration(math.Min(float64(l.Usual)*t.opts.Factor, float64(t.ceiling)))
		l.Timeout = min(max(scaled, t.floor), t.ceiling)
	}
	return l
}

// percentile is the nearest-rank q-quantile of sorted, which is not empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// publish makes l endpoint i's latency and tells the Observer.
func (t *Timeouts) publish(i int, endpoint string, l Latency) {
	t.latency[i].Store(&l)
	if t.opts.Observer != nil {
		t.opts.Observer.Timeout(endpoint, l.Timeout)
	}
}
