package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/logging"
	"github.com/adsync/adsync/internal/testenv"
)

// syncBuffer is a bytes.Buffer that the asynq server's goroutines and the
// test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		out = append(out, m)
	}
	return out
}

// TestLinesLoggedForATaskCarryItsIDAndAttempt runs a real asynq server whose
// handler fails once and then logs through a logger that knows nothing of
// the task, as the platform client does.
func TestLinesLoggedForATaskCarryItsIDAndAttempt(t *testing.T) {
	var out syncBuffer
	log := logging.New(&out, "debug", "json").With("component", "test")
	redis := asynq.RedisClientOpt{Addr: testenv.RedisAddr(), DB: testenv.RedisDB(t)}

	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency: 1, LogLevel: asynq.FatalLevel, DelayedTaskCheckInterval: 50 * time.Millisecond,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 0 },
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("log", func(ctx context.Context, _ *asynq.Task) error {
		log.InfoContext(ctx, "inside the task")
		if n, _ := asynq.GetRetryCount(ctx); n == 0 {
			return fmt.Errorf("first attempt fails")
		}
		return nil
	})
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)

	client := asynq.NewClient(redis)
	t.Cleanup(func() { _ = client.Close() })
	info, err := client.Enqueue(asynq.NewTask("log", nil), asynq.MaxRetry(1))
	require.NoError(t, err)
	log.InfoContext(t.Context(), "outside any task")

	testenv.WaitFor(t, 30*time.Second, "both attempts logged", func() bool { return len(out.lines(t)) >= 3 })
	var attempts []any
	outside := 0
	for _, l := range out.lines(t) {
		require.Equal(t, "test", l["component"], "the logger's own attributes are kept")
		if l["msg"] == "outside any task" {
			require.NotContains(t, l, "task_id")
			outside++
			continue
		}
		require.Equal(t, info.ID, l["task_id"])
		attempts = append(attempts, l["attempt"])
	}
	require.Equal(t, 1, outside)
	require.Equal(t, []any{1.0, 2.0}, attempts, "JSON numbers")
}
