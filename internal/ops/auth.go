package ops

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"

	"github.com/adsync/adsync/internal/secret"
)

// basicAuth lets through only requests with the configured user and
// password. Both sides are compared as SHA-256 digests with
// subtle.ConstantTimeCompare, and both comparisons always run, so neither
// the time taken nor an early exit tells how much of a guess was right, or
// how long the password is.
func basicAuth(user string, password secret.Secret, log *slog.Logger, next http.Handler) http.Handler {
	wantUser := sha256.Sum256([]byte(user))
	wantPass := sha256.Sum256([]byte(password.Reveal()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser := sha256.Sum256([]byte(u))
		gotPass := sha256.Sum256([]byte(p))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passOK := subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
		if !ok || userOK&passOK != 1 {
			if ok {
				log.Warn("monitoring: wrong basic-auth credentials", "remote", r.RemoteAddr, "path", r.URL.Path)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="adsync monitoring", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
