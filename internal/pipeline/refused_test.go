package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/clients"
	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/fanout"
	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/platform"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// rotatedPassword is the password the platform moves acme to.
const rotatedPassword = "Rotated-Pa55-9d1e"

// refusalPause is the platform client's pause between two token requests
// with credentials the platform refused.
const refusalPause = 200 * time.Millisecond

// rotationBundle is a worker's task execution on real Redis and
// PostgreSQL against the mock platform, whose client acme's tokens live
// one second. The platform client's credentials come from a live client
// list on a clients file that the test rewrites; the list is not watched,
// so only the re-read that a refusal forces sees a change.
type rotationBundle struct {
	mock     *mock.Server
	password string // acme's password before the rotation
	path     string // the clients file
	platform *platform.Client
	direct   *store.Store
	queue    *tasks.Queue
	srv      *asynq.Server
	mux      *asynq.ServeMux
	attemptLog
}

func newRotationBundle(t *testing.T, wait time.Duration) *rotationBundle {
	t.Helper()
	policy := NewPolicy(config.Config{TaskMaxRetry: 3, RetryBackoffMin: 20 * time.Millisecond,
		RetryBackoffMax: 100 * time.Millisecond, PlatformTimeout: time.Second, RateWaitInPlace: 100 * time.Millisecond})
	url := testenv.DatabaseURL(t)
	require.NoError(t, store.Migrate(t.Context(), url))
	st, err := store.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(st.Close)

	mc := mock.DefaultConfig()
	mc.TimeScale, mc.FailEvery, mc.HangPercent = 1, 0, 0
	// 50 sync calls of 100 ms each, two at a time: a run lasts 2.5 s at
	// least, longer than a token lives.
	mc.Campaigns, mc.SyncDelay, mc.TokenTTL = 50, 100*time.Millisecond, time.Second
	mc.RateLimit, mc.RateWindow = 1_000_000, time.Second
	ms, err := mock.NewServer(mc)
	require.NoError(t, err)
	hs := httptest.NewServer(ms)
	t.Cleanup(func() { hs.Close(); ms.Close() })
	account := mc.Accounts[0]
	b := &rotationBundle{mock: ms, password: account.Password.Reveal(), path: filepath.Join(t.TempDir(), "clients.json"), direct: st}
	b.writeClients(t, account.Email, b.password)
	live, err := clients.New(clients.FromConfig(config.Config{ClientsFile: b.path}), clients.Options{Interval: time.Hour})
	require.NoError(t, err)

	rdb := testenv.Redis(t)
	lim, err := ratelimit.New(rdb, ratelimit.Options{Limit: 1000, Window: time.Second})
	require.NoError(t, err)
	b.platform, err = platform.New(platform.Options{BaseURL: hs.URL, Limiter: lim, Credentials: live.Credentials,
		RefusalPause: refusalPause, InPlaceRetries: policy.InPlaceRetries(), InPlaceDelay: policy.InPlaceDelay})
	require.NoError(t, err)
	b.platform.ReloadWith(func(ctx context.Context) { _, _ = live.Reload(ctx) })

	b.queue = tasks.NewQueue(asynq.NewClientFromRedisClient(rdb), policy.MaxRetry(), policy.TaskTimeout())
	h := New(Options{Platform: b.platform, Store: st, FanOut: fanout.New(b.queue, lim, true), SyncCall: true,
		Policy: policy, UnconfiguredWait: wait, Logger: slog.New(slog.DiscardHandler)})
	b.mux = asynq.NewServeMux()
	b.mux.Use(b.record)
	h.Register(b.mux)
	b.srv = newServer(rdb, policy)
	return b
}

// writeClients replaces the clients file at once, naming acme with the
// password.
func (b *rotationBundle) writeClients(t *testing.T, email, password string) {
	t.Helper()
	body := fmt.Sprintf(`[{"id":"acme","email":%q,"password":%q}]`, email, password)
	require.NoError(t, os.WriteFile(b.path+".tmp", []byte(body), 0o600))
	require.NoError(t, os.Rename(b.path+".tmp", b.path))
}

// seen returns the attempts so far, and how many of them went back to the
// queue waiting for new credentials.
func (b *rotationBundle) seen() (all []attempt, waited int) {
	all = b.all()
	for _, a := range all {
		var rq *RequeueError
		if errors.As(a.err, &rq) && rq.Cause == "the platform refused the client's credentials; waiting for new ones in the clients configuration" {
			waited++
		}
	}
	return all, waited
}

// start starts a run of acme with its first page's task, and the server.
func (b *rotationBundle) start(t *testing.T) int64 {
	t.Helper()
	run, err := b.direct.CreateRun(t.Context(), "acme")
	require.NoError(t, err)
	require.NoError(t, b.queue.EnqueuePages(t.Context(), run.ID, "acme", 10, []int{1}))
	require.NoError(t, b.srv.Start(b.mux))
	t.Cleanup(b.srv.Shutdown)
	return run.ID
}

// refusedTokens is how many token requests of acme the platform refused.
func (b *rotationBundle) refusedTokens() int64 {
	return b.mock.Stats().Clients["acme"].Requests[mock.EndpointAuth]["401"]
}

// The rotation window: acme's password is changed on the platform during
// a run, its token (fetched with the old password) expires within a
// second, and the clients file follows a little later. The tasks that meet
// the refused token request go back to the queue (no asynq retry spent),
// the platform is asked again at most once per pause, and once the file
// has the new password the run completes with no dead letter.
func TestRotationWindowWaitsForTheNewPassword(t *testing.T) {
	t.Parallel()
	b := newRotationBundle(t, 20*time.Second)
	runID := b.start(t)
	testenv.WaitFor(t, 30*time.Second, "the run to save campaigns", func() bool {
		run, err := b.direct.Run(t.Context(), runID)
		require.NoError(t, err)
		return run.CampaignsSaved >= 5
	})
	b.mock.SetClientPassword("acme", rotatedPassword)
	rotated := time.Now()

	testenv.WaitFor(t, 30*time.Second, "a task to wait for new credentials", func() bool {
		_, waited := b.seen()
		return waited > 0
	})
	run, err := b.direct.Run(t.Context(), runID)
	require.NoError(t, err)
	require.False(t, run.Finished(), "the run waits: %s %s", run.Status, run.Reason)
	b.writeClients(t, "admin@mixoads.com", rotatedPassword)

	testenv.WaitFor(t, 30*time.Second, "the run to end", func() bool {
		run, err = b.direct.Run(t.Context(), runID)
		require.NoError(t, err)
		return run.Finished()
	})
	require.Equal(t, store.StatusDone, run.Status, run.Reason)
	require.Equal(t, 50, run.CampaignsSaved)
	dead, err := b.direct.DeadLetters(t.Context(), runID)
	require.NoError(t, err)
	require.Empty(t, dead)
	attempts, waited := b.seen()
	require.Positive(t, waited)
	for _, a := range attempts {
		require.Zero(t, a.retried, "no attempt was a counted failure: %v", a.err)
		if a.err != nil {
			require.NotContains(t, a.err.Error(), rotatedPassword)
			require.NotContains(t, a.err.Error(), b.password)
		}
	}
	refused := b.refusedTokens()
	require.Positive(t, refused)
	require.LessOrEqual(t, refused, int64(time.Since(rotated)/refusalPause)+1,
		"at most one token request per pause while refused, however many tasks wait")
}

// A password that stays wrong: the tasks wait in the queue for the bound,
// counted from the first refusal, then the page is a dead letter whose
// reason says since when the platform refuses the client's credentials,
// naming no password; no asynq retry was spent on the way.
func TestRefusedPasswordIsADeadLetterAfterTheWait(t *testing.T) {
	t.Parallel()
	const wait = time.Second
	b := newRotationBundle(t, wait)
	b.mock.SetClientPassword("acme", rotatedPassword) // the file never follows
	start := time.Now()
	runID := b.start(t)

	var run store.Run
	testenv.WaitFor(t, 30*time.Second, "the run to end", func() bool {
		var err error
		run, err = b.direct.Run(t.Context(), runID)
		require.NoError(t, err)
		return run.Finished()
	})
	require.GreaterOrEqual(t, time.Since(start), wait, "not before the wait")
	require.Equal(t, store.StatusFailed, run.Status)
	dead, err := b.direct.DeadLetters(t.Context(), runID)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	reason := dead[0].Reason
	require.Regexp(t, `^the platform has refused the credentials of client acme since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, `+
		`and the clients configuration of worker .+ \(pid \d+\) gave none it accepts within 1s: `+
		`fetch page 1: platform: list campaigns page 1: fetch token: status 401 \(Invalid credentials\): auth refused: permanent$`, reason)
	require.NotContains(t, reason, rotatedPassword)
	require.NotContains(t, reason, b.password)

	attempts, waited := b.seen()
	require.Equal(t, len(attempts)-1, waited, "every attempt but the last waited in the queue")
	require.ErrorIs(t, attempts[len(attempts)-1].err, asynq.SkipRetry)
	for _, a := range attempts {
		require.Zero(t, a.retried, "no attempt was a counted failure: %v", a.err)
	}
	require.LessOrEqual(t, b.refusedTokens(), int64(time.Since(start)/refusalPause)+1)
}

// The wait counts from the platform's first refusal of the client, which
// the error carries, not from the run's start: a run lasts eleven minutes
// and more, and its password may be rotated at any point of it.
func TestRefusalWaitCountsFromTheFirstRefusal(t *testing.T) {
	t.Parallel()
	h := New(Options{UnconfiguredWait: 20 * time.Second})
	task := fetchTask(t, 1, "acme")
	refusal := func(since time.Time) error {
		return fmt.Errorf("fetch page 1: %w", &platform.Error{Kind: platform.KindPermanent, Op: "list campaigns page 1: fetch token",
			Status: 401, RefusedSince: since, Err: platform.ErrCredentialsRefused})
	}

	err := h.refused(task, refusal(time.Now().Add(-19*time.Second)))
	var rq *RequeueError
	require.ErrorAs(t, err, &rq)
	require.False(t, IsFailure(err))
	require.InDelta(t, time.Second, rq.Delay, float64(50*time.Millisecond), "never past the end of the wait")

	err = h.refused(task, refusal(time.Now()))
	require.ErrorAs(t, err, &rq)
	require.Equal(t, time.Second, rq.Delay, "a twentieth of the wait at a time")

	err = h.refused(task, refusal(time.Now().Add(-21*time.Second)))
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.ErrorIs(t, err, platform.ErrCredentialsRefused)
	require.Contains(t, err.Error(), "the platform has refused the credentials of client acme since ")
}
