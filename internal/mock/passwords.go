package mock

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/adsync/adsync/internal/secret"
)

// maxPasswordBody bounds the body of POST /__mock/password.
const maxPasswordBody = 4 << 10

// passwordChange is the body of POST /__mock/password.
type passwordChange struct {
	// ClientID is the X-Client-ID whose logins change.
	ClientID string `json:"client_id"`
	// Password is the one POST /auth/token now accepts for that client,
	// with any configured email; empty goes back to the configured ones.
	Password string `json:"password"`
}

// SetClientPassword makes POST /auth/token with X-Client-ID clientID accept
// password, and no longer the configured one, for every account: a
// password rotated on the platform for one client while it runs. An empty
// password goes back to the configured ones. Tokens issued before stay
// valid until they expire, as on a platform where a password change does
// not end sessions.
func (s *Server) SetClientPassword(clientID string, password secret.Secret) {
	if password.IsZero() {
		s.passwords.Delete(clientID)
		return
	}
	s.passwords.Store(clientID, password)
}

// decodeControl reads the body of a /__mock/ control request: one JSON
// object of at most limit bytes, with no unknown field and nothing after it.
func decodeControl(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// passwordFor is the password that an account's login must carry for the
// client.
func (s *Server) passwordFor(clientID string, a Account) string {
	if p, ok := s.passwords.Load(clientID); ok {
		return p.(secret.Secret).Reveal()
	}
	return a.Password.Reveal()
}

// handlePassword serves POST /__mock/password, a test's knob over
// SetClientPassword. The answer never repeats the password.
func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	var c passwordChange
	err := decodeControl(w, r, maxPasswordBody, &c)
	if err == nil && strings.TrimSpace(c.ClientID) == "" {
		err = errors.New("client_id is required")
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "Bad request", Message: "invalid password change: " + err.Error()})
		return
	}
	s.SetClientPassword(c.ClientID, secret.Secret(c.Password))
	s.log.Info("mock password changed", "client", c.ClientID, "back_to_configured", c.Password == "")
	writeJSON(w, http.StatusOK, map[string]any{"client_id": c.ClientID, "changed": true})
}
