package ratelimit

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// Stamps of one score are told apart by an index. When the first of two
// was moved away (restamp.lua), a stamp added at that score is one stamp
// more, not the one left under a new score: the budget would lose count of
// a send, and book one more than the platform allows.
func TestStampAtAScoreLeftByAMovedOneIsOneMore(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	ctx := t.Context()
	const key = "{c}:stamps"
	at := time.Now().UnixMicro()
	score := strconv.FormatInt(at, 10)
	// score:0 was moved away; score:1 is still there.
	require.NoError(t, rdb.ZAdd(ctx, key, redis.Z{Score: float64(at), Member: score + ":1"}).Err())
	add := redis.NewScript(slotSrc + "return add_stamp(KEYS[1], tonumber(ARGV[1]), 60000000, 100)")
	require.NoError(t, add.Run(ctx, rdb, []string{key}, at).Err())
	require.EqualValues(t, 2, rdb.ZCount(ctx, key, score, score).Val())
}
