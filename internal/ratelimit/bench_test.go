package ratelimit

import (
	"errors"
	"testing"
	"time"

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
