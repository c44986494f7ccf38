package e2e

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A full sync with poison records and faults: neither the password, nor
// its Basic-auth encoding, nor any bearer token appears in any log line,
// Redis key or value (task payloads, results, errors) or dead letter.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 30
	mc.PoisonEvery = 7
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	runs := b.sync(t, "acme")

	basic := base64.StdEncoding.EncodeToString([]byte(email + ":" + password))
	forbidden := []string{password, basic, "Bearer ", "access_token"}

	logs := b.logs.String()
	require.NotEmpty(t, logs)
	for _, f := range forbidden {
		require.NotContains(t, logs, f, "logs")
	}
	dump := dumpRedis(t, b.rdb)
	require.Contains(t, dump, "campaigns:save", "the dump should include asynq's tasks")
	for _, f := range forbidden {
		require.NotContains(t, dump, f, "redis")
	}
	dead, err := b.store.DeadLetters(context.Background(), runs[0].ID)
	require.NoError(t, err)
	require.NotEmpty(t, dead)
	for _, d := range dead {
		for _, f := range forbidden {
			require.NotContains(t, d.Reason+string(d.Payload), f, "dead letter")
		}
	}
}

// dumpRedis renders every key and value of the database as text.
func dumpRedis(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		sb.WriteString(key + "\n")
		typ, err := rdb.Type(ctx, key).Result()
		require.NoError(t, err)
		switch typ {
		case "string":
			sb.WriteString(rdb.Get(ctx, key).Val())
		case "hash":
			for k, v := range rdb.HGetAll(ctx, key).Val() {
				sb.WriteString(k + "=" + v + "\n")
			}
		case "list":
			sb.WriteString(strings.Join(rdb.LRange(ctx, key, 0, -1).Val(), "\n"))
		case "set":
			sb.WriteString(strings.Join(rdb.SMembers(ctx, key).Val(), "\n"))
		case "zset":
			sb.WriteString(strings.Join(rdb.ZRange(ctx, key, 0, -1).Val(), "\n"))
		}
		sb.WriteString("\n")
	}
	require.NoError(t, iter.Err())
	return sb.String()
}
