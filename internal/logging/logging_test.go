package logging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/logging"
	"github.com/adsync/adsync/internal/testenv"
)

// jsonLines decodes the JSON lines written to b so far.
func jsonLines(t *testing.T, b *testenv.LogBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(b.String()))
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
	var out testenv.LogBuffer
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

	testenv.WaitFor(t, 30*time.Second, "both attempts logged", func() bool { return len(jsonLines(t, &out)) >= 3 })
	var attempts []any
	outside := 0
	for _, l := range jsonLines(t, &out) {
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
