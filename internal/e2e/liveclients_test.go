package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/enqueuer"
	"github.com/adsync/adsync/internal/ops/opstest"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// rotatedPassword is the password a rotation test moves to; searched for
// in the logs like the first one.
const rotatedPassword = "pa55-Rotated-4e7a"

// rewriteClients replaces the bundle's clients file at once (written
// aside, then renamed over it), each entry "id=password" with the password
// inline, as an operator's configuration tool would.
func (b *bundle) rewriteClients(t *testing.T, entries ...string) {
	t.Helper()
	var list []string
	for _, e := range entries {
		id, pw, _ := strings.Cut(e, "=")
		list = append(list, fmt.Sprintf(`{"id":%q,"email":%q,"password":%q}`, id, email, pw))
	}
	b.writeClientsFile(t, "["+strings.Join(list, ",")+"]")
}

// writeClientsFile replaces the clients file's content at once.
func (b *bundle) writeClientsFile(t *testing.T, content string) {
	t.Helper()
	path := b.vars["CLIENTS_FILE"]
	require.NoError(t, os.WriteFile(path+".new", []byte(content), 0o600))
	require.NoError(t, os.Rename(path+".new", path))
}

// requests is every request the mock has seen from a client, token
// requests included.
func (b *bundle) requests(clientID string) int64 {
	var n int64
	for _, outcomes := range b.mock.Stats().Clients[clientID].Requests {
		for _, c := range outcomes {
			n += c
		}
	}
	return n
}

// waitSaved waits until the run has saved at least n campaigns.
func (b *bundle) waitSaved(t *testing.T, runID int64, n int) {
	t.Helper()
	testenv.WaitFor(t, time.Minute, fmt.Sprintf("run %d to save %d campaigns", runID, n), func() bool {
		r, err := b.store.Run(context.Background(), runID)
		require.NoError(t, err)
		return r.CampaignsSaved >= n
	})
}

// requireNoDeadLetters checks that no record or page of the run ended in
// the dead-letter queue.
func (b *bundle) requireNoDeadLetters(t *testing.T, runID int64) {
	t.Helper()
	dead, err := b.store.DeadLetters(context.Background(), runID)
	require.NoError(t, err)
	require.Empty(t, dead)
}

// A client added to the clients file while the worker runs is synced to
// the end, without a restart: a run started before the worker saw it waits
// in the queue instead of failing, and `enqueuer sync --wait` exits 0.
func TestClientAddedWhileTheWorkerRuns(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.Campaigns = 30
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)

	// The enqueuer of another machine already knows the newcomer: its run
	// starts before this worker's file names it.
	early, err := b.starter(t).Start(context.Background(), []string{"newcomer"})
	require.NoError(t, err)
	testenv.WaitFor(t, 30*time.Second, "the newcomer's task to wait in the queue", func() bool {
		return strings.Contains(b.logs.lines(`"client":"newcomer"`), "not configured on this worker")
	})
	b.rewriteClients(t, "acme="+password, "newcomer="+password)

	var out, errOut bytes.Buffer
	code := enqueuer.Main(context.Background(), b.cfg, []string{"sync", "--wait"}, &out, &errOut)
	require.Equal(t, enqueuer.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	require.Contains(t, out.String(), fmt.Sprintf("run %d client=newcomer (already in progress", early[0].RunID))
	for _, id := range []string{"acme", "newcomer"} {
		b.requireGroundTruth(t, id)
	}
	b.requireNoDeadLetters(t, early[0].RunID)
	require.Contains(t, b.logs.String(), `"added":["newcomer"]`)

	// `enqueuer clients` lists both with their latest run, never a password.
	out.Reset()
	require.Equal(t, enqueuer.ExitOK, enqueuer.Main(context.Background(), b.cfg, []string{"clients"}, &out, &errOut), errOut.String())
	text := out.String()
	require.NotContains(t, text, password)
	require.Regexp(t, `(?m)^acme\s+`+email+`\s+\d+\s+done\s+\S+Z \(\S+ ago\)\s+30\s+0$`, text)
	require.Regexp(t, fmt.Sprintf(`(?m)^newcomer\s+%s\s+%d\s+done\s+.*\s+30\s+0$`, email, early[0].RunID), text)
}

// A password rotated on the platform and then in the clients file during a
// run: the worker drops the client's token, authenticates with the new
// password, and the run completes with no dead letter.
func TestPasswordRotatedDuringARun(t *testing.T) {
	t.Parallel()
	b := setup(t, mockConfig(), []string{"acme"}, nil)
	b.startWorker(t)
	started, err := b.starter(t).Start(context.Background(), []string{"acme"})
	require.NoError(t, err)
	run := started[0].RunID
	b.waitSaved(t, run, 20)

	tokensBefore := b.mock.Stats().Clients["acme"].Requests["auth"]["200"]
	require.Positive(t, tokensBefore)
	b.mock.SetClientPassword("acme", rotatedPassword)
	b.rewriteClients(t, "acme="+rotatedPassword)

	runs := b.waitRuns(t, []int64{run}, 3*time.Minute)
	require.Equal(t, store.StatusDone, runs[0].Status, runs[0].Reason)
	require.Equal(t, 100, runs[0].CampaignsSaved)
	b.requireNoDeadLetters(t, run)
	b.requireGroundTruth(t, "acme")
	auth := b.mock.Stats().Clients["acme"].Requests["auth"]
	require.Greater(t, auth["200"], tokensBefore, "a token was fetched with the new password")
	require.Zero(t, auth["401"], "the old password was never refused: its token was dropped at the rotation")
	require.Contains(t, b.logs.String(), `"rotated":["acme"]`)
	require.NotContains(t, b.logs.String(), rotatedPassword)
}

// The rotation window: the password is changed on the platform, the
// client's token expires, and the clients file follows only later. The
// tasks that meet the refused token request wait in the queue instead of
// failing, the worker asks the platform for a token at most once per
// refusal pause meanwhile, and once the file has the new password the run
// completes with no dead letter.
func TestPasswordRotatedOnThePlatformBeforeTheFile(t *testing.T) {
	t.Parallel()
	mc := mockConfig()
	mc.TokenTTL = 120 * time.Second // 2 s at time scale 60
	b := setup(t, mc, []string{"acme"}, nil)
	b.startWorker(t)
	started, err := b.starter(t).Start(context.Background(), []string{"acme"})
	require.NoError(t, err)
	run := started[0].RunID
	b.waitSaved(t, run, 20)

	b.mock.SetClientPassword("acme", rotatedPassword)
	rotated := time.Now()
	testenv.WaitFor(t, 30*time.Second, "a task to wait for new credentials", func() bool {
		return strings.Contains(b.logs.lines(`"client":"acme"`), "the platform refused the client's credentials")
	})
	r, err := b.store.Run(context.Background(), run)
	require.NoError(t, err)
	require.False(t, r.Finished(), "the run waits for the file: %s %s", r.Status, r.Reason)
	time.Sleep(time.Second) // the file lags behind the platform
	b.rewriteClients(t, "acme="+rotatedPassword)

	runs := b.waitRuns(t, []int64{run}, 3*time.Minute)
	require.Equal(t, store.StatusDone, runs[0].Status, runs[0].Reason)
	require.Equal(t, 100, runs[0].CampaignsSaved)
	b.requireNoDeadLetters(t, run)
	b.requireGroundTruth(t, "acme")
	refused := b.mock.Stats().Clients["acme"].Requests["auth"]["401"]
	require.Positive(t, refused)
	require.LessOrEqual(t, refused, int64(time.Since(rotated)/platform.DefaultRefusalPause)+1,
		"at most one refused token request per pause, however many tasks wait")
	require.NotContains(t, b.logs.String(), rotatedPassword)
}

// A client removed from the file mid-run: its run ends cancelled with a
// reason, its queued tasks are dropped without a request (the mock sees
// none from it afterwards), nothing of it is deleted, and the other client
// syncs to the end.
func TestClientRemovedMidRun(t *testing.T) {
	t.Parallel()
	b := setup(t, mockConfig(), []string{"acme", "gone"}, nil)
	b.startWorker(t)
	started, err := b.starter(t).Start(context.Background(), []string{"acme", "gone"})
	require.NoError(t, err)
	acmeRun, goneRun := started[0].RunID, started[1].RunID
	b.waitSaved(t, goneRun, 10)

	b.rewriteClients(t, "acme="+password)
	testenv.WaitFor(t, 30*time.Second, "the removed client's run to end", func() bool {
		r, err := b.store.Run(context.Background(), goneRun)
		require.NoError(t, err)
		return r.Finished()
	})
	// Requests already on the wire when the list changed may still land.
	time.Sleep(200 * time.Millisecond)
	seen := b.requests("gone")

	runs := b.waitRuns(t, []int64{acmeRun}, 3*time.Minute)
	require.Equal(t, store.StatusDone, runs[0].Status, runs[0].Reason)
	require.Equal(t, seen, b.requests("gone"), "the mock saw a request of the removed client after its run ended")

	gone, err := b.store.Run(context.Background(), goneRun)
	require.NoError(t, err)
	require.Equal(t, store.StatusCancelled, gone.Status)
	require.Contains(t, gone.Reason, "client removed from the clients configuration")
	kept, err := b.store.Campaigns(context.Background(), "gone")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(kept), 10, "what was synced stays")
	require.Equal(t, gone.CampaignsSaved, len(kept))
	b.requireNoDeadLetters(t, goneRun)
	// Dropped for its cancelled run when it comes up, or, when it was
	// waiting for budget as the list changed, for its client being gone
	// from an ended run: both messages begin alike, and only gone's tasks
	// are dropped.
	testenv.WaitFor(t, 30*time.Second, "the removed client's queued tasks to be dropped", func() bool {
		return strings.Contains(b.logs.String(), `"msg":"task dropped: its run `)
	})
}

// A client removed and put back while its cancelled run's tasks are still
// queued: the tasks find the client known again, but their run was
// cancelled, so they are dropped as they come up and the mock counts no
// request of that run after the cancellation.
func TestClientRemovedAndPutBack(t *testing.T) {
	t.Parallel()
	b := setup(t, mockConfig(), []string{"acme", "back"}, nil)
	b.startWorker(t)
	started, err := b.starter(t).Start(context.Background(), []string{"back"})
	require.NoError(t, err)
	run := started[0].RunID
	b.waitSaved(t, run, 10)

	b.rewriteClients(t, "acme="+password)
	testenv.WaitFor(t, 30*time.Second, "the removed client's run to end", func() bool {
		r, err := b.store.Run(context.Background(), run)
		require.NoError(t, err)
		return r.Finished()
	})
	time.Sleep(200 * time.Millisecond) // requests already on the wire may still land
	counted := b.mock.Stats().Clients["back"].Counted
	b.rewriteClients(t, "acme="+password, "back="+password)
	testenv.WaitFor(t, 10*time.Second, "the worker to know the client again", func() bool {
		return strings.Count(b.logs.String(), `"added":["back"]`) == 1
	})

	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	testenv.WaitFor(t, time.Minute, "the cancelled run's queued tasks to be dropped", func() bool {
		for _, q := range tasks.Queues {
			info, err := insp.GetQueueInfo(q)
			if errors.Is(err, asynq.ErrQueueNotFound) {
				continue
			}
			require.NoError(t, err)
			if info.Pending+info.Active+info.Scheduled+info.Retry > 0 {
				return false
			}
		}
		return true
	})
	require.Equal(t, counted, b.mock.Stats().Clients["back"].Counted, "a request of the cancelled run was sent")
	logs := b.logs.String()
	afterPutBack := logs[strings.Index(logs, `"added":["back"]`):]
	require.Regexp(t, `"msg":"task dropped: its run was cancelled".*"client":"back"`, afterPutBack,
		"tasks came up while the client was known again, and were dropped")
	r, err := b.store.Run(context.Background(), run)
	require.NoError(t, err)
	require.Equal(t, store.StatusCancelled, r.Status)
	b.requireNoDeadLetters(t, run)
}

// A broken clients file keeps the last good list: the sync of the
// configured clients goes on to the end, the problem is logged once and
// shows in /readyz's body (the worker stays ready) and in /metrics.
func TestBrokenClientsFileKeepsTheOldList(t *testing.T) {
	t.Parallel()
	b := setup(t, mockConfig(), []string{"acme", "beta"}, nil)
	b.startWorker(t)
	base := b.opsURL(t)
	started, err := b.starter(t).Start(context.Background(), []string{"acme", "beta"})
	require.NoError(t, err)
	b.waitSaved(t, started[0].RunID, 10)

	// beta loses its password, and a half-written entry follows.
	b.writeClientsFile(t, fmt.Sprintf(`[{"id":"acme","email":%q,"password":%q},{"id":"beta","email":%q}]`, email, password, email))
	testenv.WaitFor(t, 30*time.Second, "the refusal", func() bool {
		return strings.Contains(b.logs.String(), "clients configuration refused")
	})
	code, body := opstest.Call(t, http.MethodGet, base+"/readyz", "", "")
	require.Equal(t, http.StatusOK, code, "still ready: it works on the last good list: %s", body)
	require.Contains(t, body, `"clients":"clients configuration refused, keeping the last good list of 2 clients: CLIENTS_FILE: client #2 (beta): password (or password_env or password_file) is missing"`)
	f := opstest.Scrape(t, base+"/metrics")
	require.Equal(t, 0.0, f.Sum(t, "adsync_clients_config_valid", nil))
	require.Equal(t, 2.0, f.Sum(t, "adsync_clients_configured", nil))

	runs := b.waitRuns(t, []int64{started[0].RunID, started[1].RunID}, 3*time.Minute)
	for _, r := range runs {
		require.Equal(t, store.StatusDone, r.Status, "client %s: %s", r.ClientID, r.Reason)
		require.Equal(t, 100, r.CampaignsSaved)
	}
	require.Equal(t, 1, strings.Count(b.logs.String(), "clients configuration refused"), "one error line for the problem")
	require.NotContains(t, b.logs.String(), password)
}
