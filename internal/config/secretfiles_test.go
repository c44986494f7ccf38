package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeSecret writes a secret file as Docker and Kubernetes mount one.
func writeSecret(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// Every secret variable can come from a file; the trailing newline that
// `echo` and editors add is not part of the secret.
func TestSecretVariablesFromFiles(t *testing.T) {
	c, err := LoadFrom(map[string]string{
		"PLATFORM_PASSWORD_FILE": writeSecret(t, "platform-pw\n"),
		"DATABASE_URL_FILE":      writeSecret(t, "postgres://u:db-pw@db:5432/adsync\r\n"),
		"REDIS_URL_FILE":         writeSecret(t, "redis://:redis-pw@cache:6379/2"),
		"ASYNQMON_PASSWORD_FILE": writeSecret(t, "mon-pw\n\n"),
		"ASYNQMON_USER":          "ops",
	})
	require.NoError(t, err)
	require.Equal(t, "platform-pw", c.PlatformPassword.Reveal())
	require.Equal(t, "postgres://u:db-pw@db:5432/adsync", c.DatabaseURL.Reveal())
	require.Equal(t, "redis://:redis-pw@cache:6379/2", c.RedisURL)
	require.Equal(t, "mon-pw", c.AsynqmonPassword.Reveal())
}

// A missing, empty or doubly given secret is a start-up problem naming the
// variable and the path, and never the content of a file.
func TestSecretFileProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	dir, blank := t.TempDir(), writeSecret(t, "\n")
	_, err := LoadFrom(map[string]string{
		"PLATFORM_PASSWORD_FILE": missing,
		"DATABASE_URL_FILE":      blank,
		"REDIS_URL_FILE":         dir,
		"ASYNQMON_PASSWORD_FILE": writeSecret(t, "content-that-must-not-show"),
		"ASYNQMON_PASSWORD":      "also-set",
		"ASYNQMON_USER":          "ops",
	})
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 4, "one line per bad variable:\n%s", err)
	require.Contains(t, err.Error(), "PLATFORM_PASSWORD_FILE: cannot read "+missing+": no such file or directory")
	require.Contains(t, err.Error(), "DATABASE_URL_FILE: "+blank+" is empty")
	require.Contains(t, err.Error(), "REDIS_URL_FILE: cannot read "+dir)
	require.Contains(t, err.Error(), "ASYNQMON_PASSWORD_FILE: set ASYNQMON_PASSWORD or ASYNQMON_PASSWORD_FILE, not both")
	require.NotContains(t, err.Error(), "content-that-must-not-show")
	require.NotContains(t, err.Error(), "also-set")
}

// A clients-file entry may name a file holding its password.
func TestClientsFilePasswordFile(t *testing.T) {
	path := writeSecret(t, "from-file\n")
	cl, err := parseClients([]byte(`[{"id":"acme","email":"a@x","password_file":"`+path+`"}]`), os.Getenv)
	require.NoError(t, err)
	require.Equal(t, "from-file", cl[0].Password.Reveal())

	missing := filepath.Join(t.TempDir(), "gone")
	_, err = parseClients([]byte(`[{"id":"acme","email":"a@x","password_file":"`+missing+`"}]`), os.Getenv)
	require.ErrorContains(t, err, "CLIENTS_FILE: client #1 (acme): password_file: cannot read "+missing)

	_, err = parseClients([]byte(`[{"id":"acme","email":"a@x","password":"p","password_file":"`+path+`"}]`), os.Getenv)
	require.ErrorContains(t, err, "give one of password, password_env and password_file")
}
