package ops_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ops"
	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/testenv"
)

// start runs an ops server on a free loopback port, showing asynqmon for a
// leased Redis database, with the given options on top; it returns the
// server's base URL and stops the server when the test ends.
func start(t *testing.T, o ops.Options) string {
	t.Helper()
	o.Addr = "127.0.0.1:0"
	if o.RedisConnOpt == nil {
		o.RedisConnOpt = asynq.RedisClientOpt{Addr: testenv.RedisAddr(), DB: testenv.RedisDB(t)}
	}
	if o.Metrics == nil {
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "up 1\n") })
	}
	srv, err := ops.New(o)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	return "http://" + srv.Addr()
}

// readiness is /readyz's body.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func readyz(t *testing.T, base string) (int, readiness) {
	t.Helper()
	code, body := opstest.Call(t, http.MethodGet, base+"/readyz", "", "")
	var r readiness
	require.NoError(t, json.Unmarshal([]byte(body), &r), "body: %s", body)
	return code, r
}
