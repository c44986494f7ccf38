package worker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A task that finishes while Redis is unreachable keeps its report (its
// handler's result) until Redis answers again, so that asynq's single
// attempt to record it reaches the promoted primary.
func TestGateHoldsAReportUntilRedisAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	health := &redisHealth{}
	rdb.AddHook(health)
	require.Error(t, rdb.Ping(t.Context()).Err())
	require.True(t, health.lost(), "a refused connection marks Redis lost")

	gate := &redisGate{rdb: rdb, down: health, log: slog.New(slog.DiscardHandler), maxHold: time.Minute, poll: 20 * time.Millisecond}
	handlerErr := errors.New("platform said no")
	h := gate.middleware(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return handlerErr }))

	const away = 300 * time.Millisecond
	started := make(chan struct{})
	go func() {
		time.Sleep(away) // the outage is the point of the test
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := cmd.Start(); err == nil {
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		}
		close(started)
	}()
	begin := time.Now()
	err = h.ProcessTask(t.Context(), asynq.NewTask("campaigns:save", nil))
	<-started
	require.ErrorIs(t, err, handlerErr, "the handler's result is passed on unchanged")
	require.GreaterOrEqual(t, time.Since(begin), away, "the report waited for Redis")
	require.False(t, health.lost(), "Redis answered again")
}

// With Redis there, a report goes at once, and a hold never outlasts
// maxHold.
func TestGatePassesReportsWhileRedisAnswers(t *testing.T) {
	rdb, _ := ownRedis(t)
	health := &redisHealth{}
	rdb.AddHook(health)
	calls := 0
	gate := &redisGate{rdb: rdb, down: health, log: slog.New(slog.DiscardHandler), maxHold: time.Minute, poll: 20 * time.Millisecond}
	h := gate.middleware(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { calls++; return nil }))
	require.NoError(t, h.ProcessTask(t.Context(), asynq.NewTask("campaigns:save", nil)))
	require.Equal(t, 1, calls)
	require.False(t, health.lost())

	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 20 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	deadHealth := &redisHealth{}
	deadHealth.set(true)
	gate = &redisGate{rdb: dead, down: deadHealth, log: slog.New(slog.DiscardHandler), maxHold: 200 * time.Millisecond, poll: 20 * time.Millisecond}
	h = gate.middleware(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
	done := make(chan error, 1)
	go func() { done <- h.ProcessTask(t.Context(), asynq.NewTask("campaigns:save", nil)) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the hold outlasted maxHold")
	}
}
