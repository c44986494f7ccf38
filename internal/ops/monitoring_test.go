package ops_test

import (
	"net/http"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ops"
	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/secret"
)

// deadRedisOpt is a Redis connection to nowhere: asynqmon connects lazily,
// so routing and auth can be tested without one.
var deadRedisOpt = asynq.RedisClientOpt{Addr: deadAddr}

// With ASYNQMON_USER and ASYNQMON_PASSWORD set, /monitoring and its API
// require exactly those credentials; health, readiness and metrics stay
// open for probes and Prometheus.
func TestMonitoringRequiresBasicAuth(t *testing.T) {
	t.Parallel()
	base := start(t, ops.Options{User: "ops", Password: secret.Secret("s3cret-Monitor")})

	for _, tc := range []struct{ name, user, password string }{
		{"no credentials", "", ""},
		{"wrong password", "ops", "s3cret-monitor"},
		{"longer password", "ops", "s3cret-Monitor!"},
		{"wrong user", "admin", "s3cret-Monitor"},
	} {
		for _, path := range []string{"/monitoring/", "/monitoring/queues/saves", "/monitoring/api/queues"} {
			code, body := opstest.Call(t, http.MethodGet, base+path, tc.user, tc.password)
			require.Equal(t, http.StatusUnauthorized, code, "%s: GET %s", tc.name, path)
			require.NotContains(t, body, "s3cret", "%s: GET %s", tc.name, path)
		}
	}
	req, err := http.NewRequest(http.MethodGet, base+"/monitoring/", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic ")

	code, body := opstest.Call(t, http.MethodGet, base+"/monitoring/", "ops", "s3cret-Monitor")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Asynq")
	code, body = opstest.Call(t, http.MethodGet, base+"/monitoring/api/queues", "ops", "s3cret-Monitor")
	require.Equal(t, http.StatusOK, code, body)

	for _, path := range []string{"/healthz", "/metrics"} {
		code, _ := opstest.Call(t, http.MethodGet, base+path, "", "")
		require.Equal(t, http.StatusOK, code, path)
	}
}

func TestMonitoringOpenWithoutCredentialsConfigured(t *testing.T) {
	t.Parallel()
	base := start(t, ops.Options{})
	code, body := opstest.Call(t, http.MethodGet, base+"/monitoring/", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Asynq")
}

// ASYNQMON_READ_ONLY: listing works, running or deleting a task does not.
func TestMonitoringReadOnly(t *testing.T) {
	t.Parallel()
	base := start(t, ops.Options{ReadOnly: true})
	code, _ := opstest.Call(t, http.MethodGet, base+"/monitoring/api/queues", "", "")
	require.Equal(t, http.StatusOK, code)
	code, body := opstest.Call(t, http.MethodPost, base+"/monitoring/api/queues/saves/archived_tasks/some-task:run", "", "")
	require.Equal(t, http.StatusMethodNotAllowed, code, body)
	code, _ = opstest.Call(t, http.MethodDelete, base+"/monitoring/api/queues/saves/archived_tasks/some-task", "", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)
}
