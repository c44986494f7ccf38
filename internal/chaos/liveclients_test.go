//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// The clients of TestLiveClientChanges, each with its part.
const (
	liveSteady   = "client-01" // configured throughout
	liveRotating = "client-02" // its password changes during its run
	liveGone     = "client-03" // removed from the file during its run
	liveNewcomer = "client-04" // added to the file while the workers run
)

// liveRotatedPassword is the rotating client's new password, searched for
// in every output like the first one.
const liveRotatedPassword = "Chaos-Rotated-Pa55-9c1e"

// liveClient is one entry of a clients file: password inline when set,
// else through CHAOS_PLATFORM_PASSWORD as an operator would.
type liveClient struct{ id, password string }

// writeClientsFile replaces the clients file at path at once (written
// aside, then renamed over it), as a configuration tool would.
func writeClientsFile(t *testing.T, path string, clients ...liveClient) {
	t.Helper()
	var entries []string
	for _, c := range clients {
		if c.password != "" {
			entries = append(entries, fmt.Sprintf(`{"id":%q,"email":%q,"password":%q}`, c.id, platformEmail, c.password))
		} else {
			entries = append(entries, fmt.Sprintf(`{"id":%q,"email":%q,"password_env":"CHAOS_PLATFORM_PASSWORD"}`, c.id, platformEmail))
		}
	}
	require.NoError(t, os.WriteFile(path+".new", []byte("["+strings.Join(entries, ",")+"]"), 0o600))
	require.NoError(t, os.Rename(path+".new", path))
}

// enqueuerWith starts `enqueuer args...` with some variables of the
// deployment's environment replaced: an enqueuer on another machine.
func (d *deployment) enqueuerWith(vars map[string]string, args ...string) *proc {
	d.t.Helper()
	env := make(map[string]string, len(d.env))
	for k, v := range d.env {
		env[k] = v
	}
	for k, v := range vars {
		env[k] = v
	}
	d.enqueuers++
	p := startProc(d.t, d.dir, fmt.Sprintf("enqueuer-%d-%s", d.enqueuers, args[0]), binary("enqueuer"), env, args...)
	d.procs = append(d.procs, p)
	return p
}

// runOf waits for the one "run N client=ID" line of an enqueuer.
func (d *deployment) runOf(p *proc, clientID string) int64 {
	d.t.Helper()
	var id int64
	testenv.WaitFor(d.t, 60*time.Second, "run of "+clientID, func() bool {
		for _, m := range runLine.FindAllStringSubmatch(p.stdout(), -1) {
			if m[2] == clientID {
				id, _ = strconv.ParseInt(m[1], 10, 64)
				return true
			}
		}
		require.False(d.t, p.exited(), "enqueuer exited early:\n%s\n%s", p.stdout(), tail(p.stderr(), 20))
		return false
	})
	return id
}

// setMockPassword changes the password the mock accepts for one client
// through POST /__mock/password.
func (d *deployment) setMockPassword(clientID, password string) {
	d.t.Helper()
	body, err := json.Marshal(map[string]string{"client_id": clientID, "password": password})
	require.NoError(d.t, err)
	resp, err := http.Post(d.mockURL+"/__mock/password", "application/json", bytes.NewReader(body))
	require.NoError(d.t, err)
	defer resp.Body.Close()
	require.Equal(d.t, http.StatusOK, resp.StatusCode)
	var answer struct {
		Changed  bool   `json:"changed"`
		ClientID string `json:"client_id"`
	}
	require.NoError(d.t, json.NewDecoder(resp.Body).Decode(&answer))
	require.True(d.t, answer.Changed)
	require.Equal(d.t, clientID, answer.ClientID)
}

// mockRequests is every request the mock has seen from a client, token
// requests included, whatever the outcome.
func (d *deployment) mockRequests(clientID string) int64 {
	var n int64
	for _, outcomes := range d.mockStats().Clients[clientID].Requests {
		for _, c := range outcomes {
			n += c
		}
	}
	return n
}

// logged reports whether p wrote a JSON log line with msg for which match
// holds.
func logged(p *proc, msg string, match func(rec map[string]any) bool) bool {
	for _, line := range strings.Split(p.stderr(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg && match(rec) {
			return true
		}
	}
	return false
}

// names reports whether the log field holds a list that contains id.
func names(rec map[string]any, field, id string) bool {
	list, _ := rec[field].([]any)
	return slices.Contains(list, any(id))
}

// waitChange waits until every worker has logged a clients change whose
// field (added, removed or rotated) names id: all of them follow the file.
func waitChange(t *testing.T, workers []*worker, field, id string) {
	t.Helper()
	start := time.Now()
	for _, w := range workers {
		testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("%s to log %s %s", w.name, field, id), func() bool {
			return logged(w.proc, "clients configuration changed", func(rec map[string]any) bool { return names(rec, field, id) })
		})
	}
	t.Logf("%s %s: both workers switched within %s", field, id, time.Since(start).Round(time.Millisecond))
}

// Clients change under two running worker processes, with no restart, at
// time scale 60, through the one clients file they watch:
//
//   - a client that another machine's enqueuer already knows but the
//     workers' file does not yet name waits in the queue instead of
//     failing, is synced to the end once it is added to the file, and
//     `enqueuer sync --wait` exits 0;
//   - a client whose password is rotated on the platform and, right after,
//     in the file finishes its run done, with no dead letter, no refused
//     login and no 429;
//   - a client removed from the file mid-run ends cancelled, its campaigns
//     stay, and the platform hears nothing of it once the workers have
//     switched;
//   - no output of any process, nor the workers' ops servers, shows a
//     password.
func TestLiveClientChanges(t *testing.T) {
	// A margin of 250 ms rather than 25, as in syncThroughSentinel: two
	// workers, the mock and the test share a loaded machine, and the 429
	// count must say something about the rotation, not about scheduling.
	d := deploy(t, deployOptions{clients: 3, env: map[string]string{"PLATFORM_RATE_MARGIN": "250ms"}})
	d.secrets = append(d.secrets, liveRotatedPassword,
		base64.StdEncoding.EncodeToString([]byte(platformEmail+":"+liveRotatedPassword)))
	file := d.env["CLIENTS_FILE"]
	steady, gone, newcomer := liveClient{id: liveSteady}, liveClient{id: liveGone}, liveClient{id: liveNewcomer}
	rotating := liveClient{id: liveRotating, password: platformPassword}
	writeClientsFile(t, file, steady, rotating, gone)

	w1, w2 := d.startWorker(), d.startWorker()
	workers := []*worker{w1, w2}

	// The enqueuer of another machine, whose file already names the
	// newcomer, syncs the steady, rotating and new clients; a second
	// enqueuer, with the workers' file, syncs the client to be removed.
	otherFile := filepath.Join(d.dir, "clients-other-machine.json")
	writeClientsFile(t, otherFile, steady, rotating, newcomer)
	d.clientIDs = []string{liveSteady, liveRotating, liveNewcomer}
	start := time.Now()
	enq := d.enqueuerWith(map[string]string{"CLIENTS_FILE": otherFile}, "sync", "--wait")
	enqGone := d.enqueuer("sync", "--client", liveGone, "--wait")
	ids := d.runIDs(enq)
	goneRun := d.runOf(enqGone, liveGone)
	var rotatingRun int64
	for _, m := range runLine.FindAllStringSubmatch(enq.stdout(), -1) {
		if m[2] == liveRotating {
			rotatingRun, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	require.NotZero(t, rotatingRun)

	// (a) The newcomer's task reaches a worker that does not know it: back
	// in the queue, not a dead letter. Then the file names it.
	testenv.WaitFor(t, 30*time.Second, "the newcomer's task to go back to the queue", func() bool {
		for _, w := range workers {
			if logged(w.proc, "task back in the queue", func(rec map[string]any) bool {
				cause, _ := rec["cause"].(string)
				return rec["client"] == liveNewcomer && strings.Contains(cause, "not configured on this worker")
			}) {
				return true
			}
		}
		return false
	})
	writeClientsFile(t, file, steady, rotating, gone, newcomer)
	waitChange(t, workers, "added", liveNewcomer)

	// (b) Rotation during the run: the platform first, the file right
	// after, as docs/clients.md tells an operator.
	d.waitSaved([]int64{rotatingRun}, 20, time.Minute)
	before := d.mockStats().Clients[liveRotating]
	rotated := time.Now()
	d.setMockPassword(liveRotating, liveRotatedPassword)
	rotating.password = liveRotatedPassword
	writeClientsFile(t, file, steady, rotating, gone, newcomer)
	gap := time.Since(rotated)
	savedAtRotation := d.saved([]int64{rotatingRun})
	require.Less(t, savedAtRotation, campaigns, "the rotating client's run ended before the rotation: the test proved nothing")
	t.Logf("rotated %s's password with %d/%d saved; the file followed the platform within %s",
		liveRotating, savedAtRotation, campaigns, gap.Round(time.Millisecond))
	waitChange(t, workers, "rotated", liveRotating)

	// (c) Removal during the run.
	d.waitSaved([]int64{goneRun}, 20, time.Minute)
	writeClientsFile(t, file, steady, rotating, newcomer)
	savedAtRemoval := d.saved([]int64{goneRun})
	require.Less(t, savedAtRemoval, campaigns, "the removed client's run ended before the removal: the test proved nothing")
	t.Logf("removed %s with %d/%d saved", liveGone, savedAtRemoval, campaigns)
	waitChange(t, workers, "removed", liveGone)
	// Requests already on the wire when the workers switched may still
	// land (a request is cut after PLATFORM_TIMEOUT, 400 ms); none may
	// start after.
	time.Sleep(time.Second)
	goneSeen := d.mockRequests(liveGone)

	code := enq.wait(t, 2*time.Minute)
	wall := time.Since(start)
	require.Equal(t, 0, code, "enqueuer sync --wait:\n%s\n%s", tail(enq.stdout(), 30), tail(enq.stderr(), 30))
	require.Equal(t, 1, enqGone.wait(t, time.Minute), "enqueuer sync --wait over a cancelled run:\n%s", tail(enqGone.stdout(), 30))

	// (a), (b): every campaign of the three clients once, value for value;
	// every run done, no dead letter.
	d.verify(d.waitRuns(ids, time.Minute))
	stats := d.mockStats()
	rot := stats.Clients[liveRotating]
	require.Zero(t, rot.RateLimited, "429s served to the rotating client")
	require.Zero(t, rot.Requests["auth"]["401"], "the old password was never refused: the tokens were dropped at the rotation")
	require.Greater(t, rot.Requests["auth"]["200"], before.Requests["auth"]["200"], "a token was fetched with the new password")

	// (c): cancelled with a reason, nothing deleted, nothing dead, and not
	// one request after the workers switched.
	runs, err := d.st.Runs(context.Background(), []int64{goneRun})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	gr := runs[0]
	require.Equal(t, store.StatusCancelled, gr.Status)
	require.Contains(t, gr.Reason, "client removed from the clients configuration")
	kept, err := d.st.Campaigns(context.Background(), liveGone)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(kept), 20, "what was synced stays")
	require.Equal(t, gr.CampaignsSaved, len(kept))
	dead, err := d.st.DeadLetters(context.Background(), goneRun)
	require.NoError(t, err)
	require.Empty(t, dead)
	require.Equal(t, goneSeen, d.mockRequests(liveGone), "the mock saw a request of the removed client after the workers switched")
	require.Regexp(t, `\bcancelled\b`, d.runEnqueuer("status", strconv.FormatInt(goneRun, 10)))
	// A task that comes up after the cancellation is dropped for its run;
	// one that was waiting for budget when the list changed finds its
	// client gone first. Either way no request is spent.
	testenv.WaitFor(t, 30*time.Second, "the removed client's queued tasks to be dropped", func() bool {
		for _, w := range workers {
			for _, msg := range []string{"task dropped: its run was cancelled", "task dropped: its run has ended and its client is not configured"} {
				if logged(w.proc, msg, func(rec map[string]any) bool { return rec["client"] == liveGone }) {
					return true
				}
			}
		}
		return false
	})

	// No task of any client ended in asynq's archive (its dead letters).
	insp := d.inspector()
	for _, q := range tasks.Queues {
		archived, err := insp.ListArchivedTasks(q)
		require.NoError(t, err, "archived tasks of %s", q)
		require.Empty(t, archived, "archived tasks of queue %s", q)
	}

	// (d) No password anywhere: every process's output, both ops servers.
	d.requireNoSecrets(w1)
	d.requireNoSecrets(w2)
	t.Logf("RESULT clients=4 wall=%s rotating_429=%d rotating_auth=%v removed_saved=%d removed_requests=%d",
		wall.Round(time.Millisecond), rot.RateLimited, rot.Requests["auth"], gr.CampaignsSaved, goneSeen)
	w1.stop(t)
	w2.stop(t)
}
