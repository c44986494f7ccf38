package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisDBs is how many logical databases a stock Redis server offers; DB 0
// is kept for the lease keys below and for people running adsync by hand.
const redisDBs = 16

// leaseTTL bounds how long a crashed test run can keep a database number.
const leaseTTL = 10 * time.Minute

// RedisAddr is the address of the Redis server that tests use.
func RedisAddr() string {
	if a := os.Getenv("TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// RedisDB leases a Redis database number (1..15) for the duration of the
// test, flushes it before and after, and returns its number. asynq has no
// key prefix option, so a whole database per test is the only isolation it
// supports.
func RedisDB(t testing.TB) int {
	t.Helper()
	db, release, err := LeaseRedisDB(context.Background(), leaseTTL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	flush(t, db)
	t.Cleanup(func() {
		flush(t, db)
		release()
	})
	return db
}

// LeaseRedisDB takes a Redis database number (1..15) that no test or
// benchmark holds, for at most ttl, waiting up to five minutes for one to be
// free. Leases are keys set with SET NX in database 0, so tests of every
// package and the benchmarks share the numbers without flushing each
// other's data. release gives the number back.
func LeaseRedisDB(ctx context.Context, ttl time.Duration) (db int, release func(), err error) {
	admin := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: 0})
	if err := admin.Ping(ctx).Err(); err != nil {
		_ = admin.Close()
		return 0, nil, fmt.Errorf("redis at %s is not reachable: %w", RedisAddr(), err)
	}
	token := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	deadline := time.Now().Add(5 * time.Minute)
	for {
		for db := 1; db < redisDBs; db++ {
			key := fmt.Sprintf("adsync:testenv:redisdb:%d", db)
			ok, err := admin.SetNX(ctx, key, token, ttl).Result()
			if err != nil {
				_ = admin.Close()
				return 0, nil, fmt.Errorf("lease Redis DB: %w", err)
			}
			if ok {
				return db, func() {
					_ = admin.Del(context.Background(), key).Err()
					_ = admin.Close()
				}, nil
			}
		}
		if time.Now().After(deadline) {
			_ = admin.Close()
			return 0, nil, fmt.Errorf("no free Redis database after waiting 5 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func flush(t testing.TB, db int) {
	c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db})
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Errorf("testenv: flush Redis DB %d: %v", db, err)
	}
}

// Redis returns a client on a freshly leased database, closed at cleanup.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: RedisDB(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// RedisURL returns a redis:// URL for a freshly leased database, the form
// that adsync's REDIS_URL takes.
func RedisURL(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("redis://%s/%d", RedisAddr(), RedisDB(t))
}
