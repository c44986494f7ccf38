package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// New refuses options that cannot describe a rate limit, naming the field.
func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	good := Options{Limit: 10, Window: time.Minute}
	for name, tc := range map[string]struct {
		edit func(*Options)
		want []string
	}{
		"zero limit":       {func(o *Options) { o.Limit = 0 }, []string{"Limit must be at least 1"}},
		"zero window":      {func(o *Options) { o.Window = 0 }, []string{"Window must be positive"}},
		"negative margin":  {func(o *Options) { o.Margin = -time.Second }, []string{"Margin must not be negative"}},
		"negative maxwait": {func(o *Options) { o.MaxInPlaceWait = -1 }, []string{"MaxInPlaceWait must not be negative"}},
		"several at once": {func(o *Options) { o.Limit, o.Window = -1, -time.Second },
			[]string{"Limit must be at least 1", "Window must be positive"}},
	} {
		t.Run(name, func(t *testing.T) {
			opts := good
			tc.edit(&opts)
			_, err := New(rdb, opts)
			require.ErrorContains(t, err, "ratelimit: invalid options")
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}

	_, err := New(nil, good)
	require.ErrorContains(t, err, "nil Redis client")
}

// Keys carry a TTL and vanish once they no longer matter, so an idle
// client costs nothing; the prefix defaults and can be changed.
func TestKeysExpire(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	const span = 100 * time.Millisecond
	l := newLimiter(t, rdb, Options{Limit: 2, Window: span, MaxInPlaceWait: time.Second})
	keys := l.keys("c")
	stamps, blocked := keys[stampsKey], keys[blockedKey]
	require.Contains(t, stamps, DefaultKeyPrefix)

	for range 3 {
		_, err := l.Reserve(t.Context(), "c")
		require.NoError(t, err)
	}
	require.NoError(t, l.Block(t.Context(), "c", 50*time.Millisecond))
	ttl, err := rdb.PTTL(t.Context(), stamps).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0))
	// The newest stamp is one span ahead and counts for one more span.
	require.LessOrEqual(t, ttl, 2*span+expirySlack+time.Millisecond)
	ttl, err = rdb.PTTL(t.Context(), blocked).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0))
	require.LessOrEqual(t, ttl, 50*time.Millisecond+expirySlack+time.Millisecond)

	testenv.WaitFor(t, 2*time.Second, "the client's keys to expire", func() bool {
		return rdb.Exists(t.Context(), stamps, blocked).Val() == 0
	})

	custom := newLimiter(t, rdb, Options{Limit: 1, Window: time.Second, KeyPrefix: "other:"})
	_, err = custom.Reserve(t.Context(), "c")
	require.NoError(t, err)
	require.EqualValues(t, 1, rdb.Exists(t.Context(), "other:{c}:stamps").Val())
}
