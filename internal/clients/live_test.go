package clients

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/testenv"
)

const secretWord = "pw-Never-Printed-7c1"

// entry is one clients-file entry with an inline password.
func entry(id, password string) string {
	return fmt.Sprintf(`{"id":%q,"email":"%s@example.test","password":%q}`, id, id, password)
}

// writeFile replaces path's content at once (write aside, then rename), as
// a careful operator or a configuration tool does.
func writeFile(t *testing.T, path string, entries ...string) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte("["+strings.Join(entries, ",")+"]"), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

type bundle struct {
	path string
	live *Live
	logs *testenv.LogBuffer
}

func setup(t *testing.T, opts Options, entries ...string) *bundle {
	t.Helper()
	b := &bundle{path: filepath.Join(t.TempDir(), "clients.json"), logs: &testenv.LogBuffer{}}
	writeFile(t, b.path, entries...)
	opts.Logger = slog.New(slog.NewJSONHandler(b.logs, nil))
	var err error
	b.live, err = New(FromConfig(config.Config{ClientsFile: b.path}), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NotContains(t, b.logs.String(), secretWord, "a password reached the log")
	})
	return b
}

func TestStartsWithTheFilesList(t *testing.T) {
	b := setup(t, Options{}, entry("acme", secretWord), entry("beta", "b"))
	require.Equal(t, []string{"acme", "beta"}, b.live.List().IDs())
	creds, ok := b.live.Credentials("acme")
	require.True(t, ok)
	require.Equal(t, "acme@example.test", creds.Email)
	require.Equal(t, secretWord, creds.Password.Reveal())
	_, ok = b.live.Credentials("nobody")
	require.False(t, ok)
	require.NoError(t, b.live.Problem())
}

func TestABrokenFileAtStartIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.json")
	require.NoError(t, os.WriteFile(path, []byte(`[{"id":"acme"}]`), 0o600))
	_, err := New(FromConfig(config.Config{ClientsFile: path}), Options{})
	require.ErrorContains(t, err, "email is missing")
}

// A reload switches to the new list whole and tells the subscribers which
// clients were added, removed and rotated, by id.
func TestReloadReportsTheChange(t *testing.T) {
	b := setup(t, Options{}, entry("acme", "a1"), entry("beta", "b1"), entry("gamma", "g1"))
	var mu sync.Mutex
	var got []Change
	b.live.OnChange(func(_ context.Context, ch Change) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ch)
	})
	writeFile(t, b.path, entry("acme", "a1"), entry("gamma", secretWord), entry("delta", "d1"))
	ch, err := b.live.Reload(t.Context())
	require.NoError(t, err)
	want := Change{Added: []string{"delta"}, Removed: []string{"beta"}, Rotated: []string{"gamma"}}
	require.Equal(t, want, ch)
	require.Equal(t, []Change{want}, got)
	require.Equal(t, []string{"acme", "gamma", "delta"}, b.live.List().IDs())
	creds, _ := b.live.Credentials("gamma")
	require.Equal(t, secretWord, creds.Password.Reveal())

	ch, err = b.live.Reload(t.Context())
	require.NoError(t, err)
	require.True(t, ch.Empty(), "nothing changed")
	require.Len(t, got, 1, "subscribers hear only of changes")
	require.Equal(t, 1.0, testutil.ToFloat64(b.live.reloads.WithLabelValues("changed")))
	require.Equal(t, 3.0, testutil.ToFloat64(b.live.configured))
}

// A broken file keeps the last good list; the problem is logged once, in
// one line that names it and no password, and shows in the metric and the
// readiness line until the file is fixed.
func TestABrokenFileKeepsTheLastGoodList(t *testing.T) {
	b := setup(t, Options{}, entry("acme", secretWord))
	writeFile(t, b.path, entry("acme", secretWord), `{"id":"beta","email":"b@example.test"}`)
	for range 3 {
		_, err := b.live.Reload(t.Context())
		require.ErrorContains(t, err, "client #2 (beta): password (or password_env or password_file) is missing")
	}
	require.Equal(t, []string{"acme"}, b.live.List().IDs(), "the last good list stays")
	require.Equal(t, 0.0, testutil.ToFloat64(b.live.valid))
	require.Equal(t, 3.0, testutil.ToFloat64(b.live.reloads.WithLabelValues("refused")))
	problem := b.live.Problem()
	require.ErrorContains(t, problem, "keeping the last good list of 1 clients")
	require.ErrorContains(t, problem, "password (or password_env or password_file) is missing")
	require.Equal(t, problem, b.live.Check().Probe(t.Context()), "the readiness line")
	require.True(t, b.live.Check().Advisory, "the worker stays ready on its last good list")
	errLines := strings.Count(b.logs.String(), `"level":"ERROR"`)
	require.Equal(t, 1, errLines, "one error line for one problem:\n%s", b.logs.String())
	require.NotContains(t, b.logs.String(), `\n`, "the problem is on one line")

	writeFile(t, b.path, `not json at all`)
	_, err := b.live.Reload(t.Context())
	require.ErrorContains(t, err, "not a JSON list")
	require.Equal(t, 2, strings.Count(b.logs.String(), `"level":"ERROR"`), "a new problem is a new line")

	writeFile(t, b.path, entry("acme", secretWord), entry("beta", "b1"))
	_, err = b.live.Reload(t.Context())
	require.NoError(t, err)
	require.NoError(t, b.live.Problem())
	require.Equal(t, 1.0, testutil.ToFloat64(b.live.valid))
	require.Equal(t, []string{"acme", "beta"}, b.live.List().IDs())
	require.Contains(t, b.logs.String(), "clients configuration valid again")
}

// The watcher sees the file replaced within moments, long before its
// periodic re-read.
func TestWatchSeesTheFileChange(t *testing.T) {
	b := setup(t, Options{Interval: time.Hour, Settle: 20 * time.Millisecond}, entry("acme", "a1"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go b.live.Watch(ctx)
	// The watch starts asynchronously: keep writing until it is seen.
	testenv.WaitFor(t, 10*time.Second, "the added client", func() bool {
		writeFile(t, b.path, entry("acme", "a1"), entry("beta", "b1"))
		time.Sleep(50 * time.Millisecond)
		_, ok := b.live.List().Get("beta")
		return ok
	})
	// Writing in place (truncate, then write) is seen too.
	require.NoError(t, os.WriteFile(b.path, []byte("["+entry("acme", "a2")+"]"), 0o600))
	testenv.WaitFor(t, 10*time.Second, "the rotated password", func() bool {
		c, _ := b.live.Credentials("acme")
		return c.Password.Reveal() == "a2"
	})
}

// A Kubernetes Secret volume updates by swapping the `..data` symlink to a
// new timestamped directory; the file path itself is a symlink through
// `..data` and is never written. The directory watch sees the swap.
func TestWatchSeesAKubernetesSecretSwap(t *testing.T) {
	dir := t.TempDir()
	publish := func(version string, entries ...string) {
		v := filepath.Join(dir, "..v"+version)
		require.NoError(t, os.Mkdir(v, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(v, "clients.json"), []byte("["+strings.Join(entries, ",")+"]"), 0o600))
		tmp := filepath.Join(dir, "..data_tmp")
		require.NoError(t, os.Symlink("..v"+version, tmp))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	}
	publish("1", entry("acme", "a1"))
	path := filepath.Join(dir, "clients.json")
	require.NoError(t, os.Symlink(filepath.Join("..data", "clients.json"), path))
	live, err := New(FromConfig(config.Config{ClientsFile: path}), Options{Interval: time.Hour, Settle: 20 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go live.Watch(ctx)
	time.Sleep(200 * time.Millisecond) // let the watch start; the swap below happens once
	publish("2", entry("acme", "a1"), entry("beta", "b1"))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "..v1")))
	testenv.WaitFor(t, 10*time.Second, "the swapped-in client", func() bool {
		_, ok := live.List().Get("beta")
		return ok
	})
}

// Without notifications (no paths to watch here), the periodic re-read
// still picks the change up.
func TestPeriodicReadIsTheFallback(t *testing.T) {
	b := setup(t, Options{Interval: 50 * time.Millisecond}, entry("acme", "a1"))
	b.live.src.Paths = nil
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go b.live.Watch(ctx)
	writeFile(t, b.path, entry("acme", "a1"), entry("beta", "b1"))
	testenv.WaitFor(t, 10*time.Second, "the added client", func() bool {
		_, ok := b.live.List().Get("beta")
		return ok
	})
}

// writeSecret replaces a mounted secret file at once, as a configuration
// tool does.
func writeSecret(t *testing.T, path, value string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path+".tmp", []byte(value+"\n"), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}

// A password_file named by a clients-file entry, in a directory of its
// own, is followed like the clients file: a new password written there is
// in force within moments, and the change is reported as a rotation of
// that client, by id.
func TestAChangedPasswordFileIsPickedUp(t *testing.T) {
	secrets := t.TempDir()
	pwFile := filepath.Join(secrets, "acme-password")
	writeSecret(t, pwFile, "first-Pa55")
	b := setup(t, Options{Interval: time.Hour, Settle: 20 * time.Millisecond},
		fmt.Sprintf(`{"id":"acme","email":"acme@example.test","password_file":%q}`, pwFile), entry("beta", "b1"))
	creds, ok := b.live.Credentials("acme")
	require.True(t, ok)
	require.Equal(t, "first-Pa55", creds.Password.Reveal())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go b.live.Watch(ctx)

	// The watch starts asynchronously: keep writing until it is seen.
	testenv.WaitFor(t, 10*time.Second, "the rotated password", func() bool {
		writeSecret(t, pwFile, secretWord)
		time.Sleep(50 * time.Millisecond)
		c, _ := b.live.Credentials("acme")
		return c.Password.Reveal() == secretWord
	})
	require.Contains(t, b.logs.String(), `"rotated":["acme"]`)
	require.Equal(t, []string{"acme", "beta"}, b.live.List().IDs())
}

// In single-client mode (no CLIENTS_FILE), a new password written to
// PLATFORM_PASSWORD_FILE is in force within moments too: the whole
// configuration is read again, and the file's directory is watched.
func TestAChangedPlatformPasswordFileIsPickedUp(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "platform-password")
	writeSecret(t, pwFile, "first-Pa55")
	for _, name := range []string{"CLIENTS_FILE", "PLATFORM_PASSWORD"} {
		t.Setenv(name, "") // restored after the test
		require.NoError(t, os.Unsetenv(name))
	}
	t.Setenv("PLATFORM_EMAIL", "ads@example.test")
	t.Setenv("PLATFORM_CLIENT_ID", "solo")
	t.Setenv("PLATFORM_PASSWORD_FILE", pwFile)
	cfg, err := config.Load()
	require.NoError(t, err)
	logs := &testenv.LogBuffer{}
	live, err := New(FromConfig(cfg), Options{Interval: time.Hour, Settle: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	creds, ok := live.Credentials("solo")
	require.True(t, ok)
	require.Equal(t, "first-Pa55", creds.Password.Reveal())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go live.Watch(ctx)

	testenv.WaitFor(t, 10*time.Second, "the rotated password", func() bool {
		writeSecret(t, pwFile, secretWord)
		time.Sleep(50 * time.Millisecond)
		c, _ := live.Credentials("solo")
		return c.Password.Reveal() == secretWord
	})
	require.Contains(t, logs.String(), `"rotated":["solo"]`)
	require.NotContains(t, logs.String(), secretWord)
}
