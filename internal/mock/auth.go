package mock

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"time"
)

// Access tokens are self-contained: base64url(expiry ‖ account ‖ MAC), the
// MAC keyed by a random per-server key. Verifying needs no shared table, so
// tokens cost no lock and no memory however many are issued; a restarted
// mock rejects old tokens as invalid, as a real platform may.
const (
	tokenPayloadLen = 8 + 4 // expiry in Unix nanoseconds, account index
	tokenMACLen     = 16
)

// tokenAnswer is the 200 body of POST /auth/token.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	IssuedAt    int64  `json:"issued_at"`
}

// expiredAnswer is the 401 body for an expired token.
type expiredAnswer struct {
	apiError
	ExpiredAt string `json:"expired_at"`
}

// handleToken serves POST /auth/token: Basic credentials in, Bearer token
// out. It is not rate limited.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	c := s.client(clientID(r))
	if s.faults.Load().isDown(c.id) {
		s.reply(w, c, epAuth, http.StatusServiceUnavailable, unavailable)
		return
	}
	account, problem := s.checkBasic(r.Header.Get("Authorization"), c.id)
	if problem != nil {
		s.reply(w, c, epAuth, http.StatusUnauthorized, problem)
		return
	}
	now := s.now()
	s.reply(w, c, epAuth, http.StatusOK, tokenAnswer{
		AccessToken: s.issueToken(account, now.Add(s.tokenTTL)),
		TokenType:   "Bearer",
		ExpiresIn:   max(1, int64(s.tokenTTL/time.Second)),
		IssuedAt:    now.Unix(),
	})
}

// checkBasic returns the index of the account named by a Basic
// Authorization header, or the 401 body saying what is wrong.
func (s *Server) checkBasic(header, clientID string) (int, *apiError) {
	unauthorized := func(msg string) (int, *apiError) {
		return 0, &apiError{Error: "Unauthorized", Message: msg}
	}
	if header == "" {
		return unauthorized("Missing Authorization header: send Basic base64(email:password).")
	}
	scheme, encoded, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return unauthorized("Authorization scheme must be Basic.")
	}
	decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return unauthorized("Basic credentials are not valid base64.")
	}
	email, password, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return unauthorized("Basic credentials must be email:password.")
	}
	found := -1
	for i, a := range s.cfg.Accounts {
		// Compare every account in constant time, so timing tells nothing.
		same := subtle.ConstantTimeCompare([]byte(email), []byte(a.Email)) &
			subtle.ConstantTimeCompare([]byte(password), []byte(s.passwordFor(clientID, a)))
		if same == 1 {
			found = i
		}
	}
	if found < 0 {
		return 0, &apiError{Error: "Invalid credentials", Message: "Email or password is wrong."}
	}
	return found, nil
}

// issueToken makes a token for an account that expires at exp.
func (s *Server) issueToken(account int, exp time.Time) string {
	buf := make([]byte, tokenPayloadLen, tokenPayloadLen+sha256.Size)
	binary.BigEndian.PutUint64(buf, uint64(exp.UnixNano()))
	binary.BigEndian.PutUint32(buf[8:], uint32(account)) // #nosec G115 -- an index into the configured accounts, far below 2^32
	return base64.RawURLEncoding.EncodeToString(s.sign(buf)[:tokenPayloadLen+tokenMACLen])
}

// sign appends the MAC of payload to it.
func (s *Server) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(payload)
}

// readToken checks a token's MAC and returns its expiry; ok is false for
// anything the mock did not issue.
func (s *Server) readToken(token string) (exp time.Time, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenPayloadLen+tokenMACLen {
		return time.Time{}, false
	}
	want := s.sign(raw[:tokenPayloadLen:tokenPayloadLen])[tokenPayloadLen : tokenPayloadLen+tokenMACLen]
	if !hmac.Equal(want, raw[tokenPayloadLen:]) {
		return time.Time{}, false
	}
	if int(binary.BigEndian.Uint32(raw[8:])) >= len(s.cfg.Accounts) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw))), true // #nosec G115 -- reads back the int64 that issueToken wrote; the MAC was checked above
}

// authorize checks the Bearer token of an /api request and answers 401 when
// it is missing, invalid or expired. Tokens are bound to an account and
// accepted with any X-Client-ID.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, c *client, ep endpoint) bool {
	unauthorized := func(errText, msg string) bool {
		s.reply(w, c, ep, http.StatusUnauthorized, apiError{Error: errText, Message: msg})
		return false
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return unauthorized("Unauthorized", "Missing Authorization header: send Bearer <access_token> from POST /auth/token.")
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return unauthorized("Unauthorized", "Authorization scheme must be Bearer.")
	}
	exp, ok := s.readToken(strings.TrimSpace(token))
	if !ok {
		return unauthorized("Invalid token", "The access token is not valid; request a new one at POST /auth/token.")
	}
	if !s.now().Before(exp) {
		s.reply(w, c, ep, http.StatusUnauthorized, expiredAnswer{
			apiError: apiError{
				Error:   "Token expired",
				Message: "The access token expired; request a new one at POST /auth/token.",
			},
			ExpiredAt: stamp(exp),
		})
		return false
	}
	return true
}
