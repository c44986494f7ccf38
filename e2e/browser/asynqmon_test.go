//go:build browser

package browser

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

const (
	email       = "ops@example.test"
	password    = "pa55-Browser-7c1d" // must never show in asynqmon
	monUser     = "ops"
	monPassword = "mon-Pa55-4e2a"
	// reasonText starts the reason of every poison record's dead letter.
	reasonText = "invalid campaign: field"
	// screenshot is where the picture of asynqmon lands: docs/operations.md
	// shows it, so a run of the test refreshes the committed picture.
	screenshot = "docs/img/asynqmon-dead-letters.png"
)

// A sync with every 10th record poisoned, at time scale 60, by the built
// binaries; then an operator's view: asynqmon's archived tab of the saves
// queue, behind basic auth, lists the ten dead letters with their reasons.
func TestAsynqmonShowsDeadLetters(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	require.NoError(t, err, "Debian's chromium is needed: `make e2e-browser` installs it")
	bin := buildBinaries(t)

	mock := start(t, bin+"/mockapi", map[string]string{
		"MOCK_ADDR": "127.0.0.1:0", "MOCK_TIME_SCALE": "60", "MOCK_POISON_EVERY": "10",
		"MOCK_ACCOUNTS": email + ":" + password, "LOG_FORMAT": "json",
	})
	env := map[string]string{
		"REDIS_URL": testenv.RedisURL(t), "DATABASE_URL": testenv.DatabaseURL(t),
		"PLATFORM_URL":       "http://" + mock.listenAddr(t, "mockapi listening"),
		"PLATFORM_CLIENT_ID": "acme", "PLATFORM_EMAIL": email, "PLATFORM_PASSWORD": password,
		// The platform's durations at time scale 60.
		"PLATFORM_RATE_WINDOW": "1000ms", "PLATFORM_RATE_MARGIN": "25ms", "RATE_WAIT_IN_PLACE": "1s",
		"PLATFORM_TIMEOUT": "400ms", "RETRY_BACKOFF_MIN": "50ms", "RETRY_BACKOFF_MAX": "500ms",
		"QUEUE_POLL_INTERVAL": "20ms", "SHUTDOWN_TIMEOUT": "5s",
		"HTTP_ADDR": "127.0.0.1:0", "ASYNQMON_USER": monUser, "ASYNQMON_PASSWORD": monPassword,
		"LOG_FORMAT": "json",
	}
	worker := start(t, bin+"/worker", env)
	ops := worker.listenAddr(t, "ops server listening")

	out, code := run(t, 3*time.Minute, bin+"/enqueuer", env, "sync", "--wait")
	require.Equal(t, 1, code, "enqueuer sync --wait exits 1 when records were dead-lettered:\n%s", out)
	require.Contains(t, out, "done_with_failures")

	text, rows := openArchivedTab(t, chromium, "http://"+ops+"/monitoring/queues/saves?status=archived")
	require.Equal(t, 10, rows, "archived tasks listed")
	require.Equal(t, 10, strings.Count(text, reasonText), "reasons shown:\n%s", text)
	require.NotContains(t, text, password)
	t.Logf("asynqmon lists %d dead letters; screenshot in %s", rows, screenshot)

	worker.stop(t, 15*time.Second)
	mock.stop(t, 15*time.Second)
}

// openArchivedTab opens url in headless Chromium with basic auth, waits for
// a dead letter's reason to show, saves a screenshot and returns the page's
// text and its number of table rows.
func openArchivedTab(t *testing.T, chromium, url string) (string, int) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1600, 3900), // tall enough for all ten rows
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(monUser+":"+monPassword))
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err, "start chromium")
	_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "`+reasonText+`")]`)),
	), "chromium on %s: no dead letter's reason shown", url)
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`))
	require.NoError(t, err)
	// The picture for the docs: the top of the page at a laptop's size, the
	// queue's figures and the first dead letters with their reasons.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1400, 1000)))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	requireNotBlank(t, png)
	path := filepath.Join(repoRoot, screenshot)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, png, 0o644))
	return text, rows
}
