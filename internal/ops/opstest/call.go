package opstest

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Call sends one request without a body, with basic auth when user is not
// empty, and returns the status and body.
func Call(t testing.TB, method, url, user, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}
