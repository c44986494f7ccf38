package ops_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ops"
	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/testenv"
)

// deadAddr is a loopback port where nothing listens: a connection is
// refused at once.
const deadAddr = "127.0.0.1:1"

func redisCheck(rdb *redis.Client) ops.Check {
	return ops.Check{Name: "redis", Probe: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
}

func postgresCheck(t *testing.T, url string) ops.Check {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url) // connects lazily
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return ops.Check{Name: "postgres", Probe: pool.Ping}
}

func liveStore(t *testing.T) ops.Check {
	t.Helper()
	st, err := store.Open(context.Background(), testenv.DatabaseURL(t))
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return ops.Check{Name: "postgres", Probe: st.Ping}
}

func TestReadyWhenRedisAndPostgresAnswer(t *testing.T) {
	t.Parallel()
	base := start(t, ops.Options{Checks: []ops.Check{redisCheck(testenv.Redis(t)), liveStore(t)}})

	code, r := readyz(t, base)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, readiness{Status: "ok", Checks: map[string]string{"redis": "ok", "postgres": "ok"}}, r)
	code, _ = opstest.Call(t, http.MethodGet, base+"/healthz", "", "")
	require.Equal(t, http.StatusOK, code)
}

// Redis refuses connections: not ready, naming Redis; the process is still
// alive, so /healthz stays 200 and an orchestrator does not restart it.
func TestNotReadyWhenRedisUnreachable(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{Addr: deadAddr, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	base := start(t, ops.Options{Checks: []ops.Check{redisCheck(dead), liveStore(t)}})

	code, r := readyz(t, base)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "unavailable", r.Status)
	require.Contains(t, r.Checks["redis"], "connection refused")
	require.Equal(t, "ok", r.Checks["postgres"])
	code, _ = opstest.Call(t, http.MethodGet, base+"/healthz", "", "")
	require.Equal(t, http.StatusOK, code)
}

func TestNotReadyWhenPostgresUnreachable(t *testing.T) {
	t.Parallel()
	base := start(t, ops.Options{Checks: []ops.Check{
		redisCheck(testenv.Redis(t)),
		postgresCheck(t, "postgres://postgres@"+deadAddr+"/adsync?sslmode=disable&connect_timeout=5"),
	}})

	code, r := readyz(t, base)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "ok", r.Checks["redis"])
	require.Contains(t, r.Checks["postgres"], "connection refused")
}

// A Redis that accepts connections but never answers (a hung server, a
// black-holed route) makes /readyz answer 503 after CheckTimeout, not hang.
func TestReadinessIsTimeBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // accept and stay silent until the listener closes
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, conn)
		}
	}()
	silent := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, ReadTimeout: time.Minute})
	t.Cleanup(func() { _ = silent.Close() })
	base := start(t, ops.Options{Checks: []ops.Check{redisCheck(silent)}, CheckTimeout: 300 * time.Millisecond})

	began := time.Now()
	code, r := readyz(t, base)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, r.Checks["redis"], "deadline exceeded")
	require.Less(t, time.Since(began), 5*time.Second)
}

// A taken port fails Start at once, so a worker does not run without its
// ops server.
func TestStartFailsOnTakenPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	srv, err := ops.New(ops.Options{Addr: ln.Addr().String(), RedisConnOpt: deadRedisOpt, Metrics: http.NotFoundHandler()})
	require.NoError(t, err)
	require.ErrorContains(t, srv.Start(), "address already in use")
	require.NoError(t, srv.Shutdown(context.Background()))
}
