package mock

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// postPassword sends POST /__mock/password with body and returns the
// status and the answer's text.
func (b *bundle) postPassword(t *testing.T, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(b.ts.URL+"/__mock/password", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

// A password changed for one client while the mock runs: that client's
// old password is refused and the new one accepted, other clients keep
// theirs, tokens issued before stay valid, and an empty password goes back
// to the configured one.
func TestPasswordChangesForOneClient(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	login := func(clientID, password string) int {
		return b.do(t, http.MethodPost, "/auth/token", headers{
			"Authorization": basic(refEmail, password), "X-Client-ID": clientID}).status
	}
	before := b.token(t, "acme")

	status, text := b.postPassword(t, `{"client_id":"acme","password":"Rotated-9x"}`)
	require.Equal(t, http.StatusOK, status, text)
	require.NotContains(t, text, "Rotated-9x", "the answer never repeats the password")

	require.Equal(t, http.StatusUnauthorized, login("acme", refPassword))
	require.Equal(t, http.StatusOK, login("acme", "Rotated-9x"))
	require.Equal(t, http.StatusOK, login("beta", refPassword), "other clients keep theirs")
	require.Equal(t, http.StatusUnauthorized, login("beta", "Rotated-9x"))
	require.Equal(t, http.StatusOK, b.list(t, "acme", before, "").status, "a token issued before stays valid")

	status, _ = b.postPassword(t, `{"client_id":"acme","password":""}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusOK, login("acme", refPassword))
}

func TestPasswordChangeRefusesBadBodies(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	for _, body := range []string{``, `{}`, `{"client_id":" "}`, `{"client_id":"a","pasword":"x"}`, `{"client_id":"a"} {}`, `[1]`} {
		status, text := b.postPassword(t, body)
		require.Equal(t, http.StatusBadRequest, status, "body %q: %s", body, text)
		require.Contains(t, text, "invalid password change")
	}
	a := b.do(t, http.MethodGet, "/__mock/password", nil)
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
}
