package ratelimit

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/adsync/adsync/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newLimiter builds a Limiter or fails the test.
func newLimiter(t testing.TB, rdb redis.UniversalClient, opts Options) *Limiter {
	t.Helper()
	l, err := New(rdb, opts)
	require.NoError(t, err)
	// No spreading of booked slots: the tests assert exact slots.
	l.spread = func(int64) int64 { return 0 }
	return l
}

// otherProcess returns a separate go-redis client on rdb's database: a
// second worker process, as far as the limiter can tell.
func otherProcess(t testing.TB, rdb *redis.Client) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: rdb.Options().DB})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// stampScores returns the client's stamps, oldest first, in microseconds.
func stampScores(t testing.TB, rdb *redis.Client, l *Limiter, clientID string) []int64 {
	t.Helper()
	stamps := l.keys(clientID)[stampsKey]
	zs, err := rdb.ZRangeWithScores(t.Context(), stamps, 0, -1).Result()
	require.NoError(t, err)
	scores := make([]int64, len(zs))
	for i, z := range zs {
		scores[i] = int64(z.Score)
	}
	return scores
}

// newManualClock is a clock the test moves by hand, at a fixed,
// whole-second instant.
func newManualClock() *testenv.Clock { return testenv.NewClock(time.Unix(1_800_000_000, 0)) }

// micros is d in microseconds, as the limiter's stamps are.
func micros(d time.Duration) int64 { return d.Microseconds() }
