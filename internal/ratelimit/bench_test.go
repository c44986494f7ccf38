package ratelimit

import (
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// BenchmarkReserve measures one decision against the real Redis: one
// EVALSHA round trip and the script's work.
func BenchmarkReserve(b *testing.B) {
	rdb := testenv.Redis(b)
	b.Run("booked", func(b *testing.B) {
		// A huge limit over a 1 ms window: every call books, and trimming
		// keeps the set small, as in steady use.
		l := newLimiter(b, rdb, Options{Limit: 1 << 30, Window: time.Millisecond, MaxInPlaceWait: time.Second})
		for b.Loop() {
			if _, err := l.Reserve(b.Context(), "bench-booked"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		// The platform's limit with no in-place wait: after the first ten
		// calls every decision is a refusal.
		l := newLimiter(b, rdb, Options{Limit: 10, Window: time.Minute})
		for b.Loop() {
			var nb *NoBudgetError
			if _, err := l.Reserve(b.Context(), "bench-refused"); err != nil && !errors.As(err, &nb) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFence measures what fence.lua adds to a decision (an INFO
// replication and a GET inside the script), on a Redis of its own: the
// reserve script with the fence against the same script with a fence that
// does nothing. Besides ns/op, which the machine's load disturbs, it
// reports server-µs/op, the script's time inside Redis from INFO
// commandstats.
func BenchmarkFence(b *testing.B) {
	rdb := privateRedisB(b)
	unfenced := redis.NewScript("local function fence() end\n" + slotSrc + reserveSrc)
	l := newLimiter(b, rdb, Options{Limit: 1 << 30, Window: time.Millisecond, MaxInPlaceWait: time.Second})
	run := func(b *testing.B, s *redis.Script, client string) {
		keys := l.keys(client)
		require.NoError(b, s.Load(b.Context(), rdb).Err())
		require.NoError(b, rdb.ConfigResetStat(b.Context()).Err())
		for b.Loop() {
			if err := s.Run(b.Context(), rdb, keys, l.opts.Limit, l.span, l.maxWait,
				expirySlack.Milliseconds(), "", l.fence, l.now(), l.gap, 0).Err(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(serverMicrosPerCall(b, rdb, "evalsha"), "server-µs/op")
	}
	b.Run("fenced", func(b *testing.B) { run(b, reserveScript, "bench-fenced") })
	b.Run("unfenced", func(b *testing.B) { run(b, unfenced, "bench-unfenced") })
}

// serverMicrosPerCall reads a command's usec_per_call from INFO
// commandstats.
func serverMicrosPerCall(b *testing.B, rdb *redis.Client, cmd string) float64 {
	info, err := rdb.Info(b.Context(), "commandstats").Result()
	require.NoError(b, err)
	m := regexp.MustCompile(`cmdstat_` + cmd + `:.*usec_per_call=([0-9.]+)`).FindStringSubmatch(info)
	require.NotNil(b, m, "no %s in INFO commandstats", cmd)
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(b, err)
	return v
}
