package platform

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/mock"
	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/secret"
	"github.com/adsync/adsync/internal/testenv"
)

// A sync call that hangs past its endpoint's usual latency is sent a
// second time from a spare slot, and the copy's answer is the call's: the
// caller never waits out the timeout; while another request of the client
// is younger than the usual latency, the copy waits for it to age. When
// queued work of the client holds the budget's next slots, no copy is sent
// and the hang costs the timeout.
// Neither puts more than the limit into a window, nor draws a 429.
func TestHedgeAnswersAHungRequestFromASpareSlot(t *testing.T) {
	t.Parallel()
	const limit = 10
	mc := mock.DefaultConfig()
	mc.TimeScale = 60 // window 1 s, a sync call takes 33 ms
	mc.HangPercent, mc.FailEvery = 0, 0
	mc.Accounts = []mock.Account{{Email: testEmail, Password: testPassword}}
	srv, err := mock.NewServer(mc)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	rdb := testenv.Redis(t)
	lim, err := ratelimit.New(rdb, ratelimit.Options{Limit: limit, Window: time.Second, Margin: 50 * time.Millisecond,
		MaxInPlaceWait: 2 * time.Second})
	require.NoError(t, err)
	obs := &recordingObserver{}
	c, err := New(Options{
		BaseURL: hs.URL, Timeout: 10 * time.Second, Limiter: lim, Observer: obs,
		Credentials: func(string) (Credentials, bool) {
			return Credentials{Email: testEmail, Password: secret.Secret(testPassword)}, true
		},
	})
	require.NoError(t, err)
	// A sync usually answers within 200 ms; a request is given 2 s. The
	// mock answers in 33 ms: a copy goes only for the hung request, even
	// when the race detector on a busy machine slows a healthy one down.
	lt := learning(t, c, rdb, TimeoutOptions{Floor: 2 * time.Second, MinSamples: 20})
	feed(lt, EndpointSync, 25, 200*time.Millisecond)
	require.Equal(t, Latency{Timeout: 2 * time.Second, Usual: 200 * time.Millisecond, Median: 200 * time.Millisecond, Samples: 25},
		c.Latency(EndpointSync))

	ctx := context.Background()
	require.NoError(t, srv.SetFaults(mock.Faults{HangNext: 1}))
	res, err := c.SyncCampaign(ctx, testClient, "campaign_1")
	require.NoError(t, err, "the copy answered")
	require.Equal(t, "campaign_1", res.CampaignID)
	require.Equal(t, []string{testClient + " sync"}, obs.hedges())
	testenv.WaitFor(t, 5*time.Second, "the mock to count the first copy's hang", func() bool {
		st := srv.Stats().Clients[testClient]
		return st.Requests[mock.EndpointSync][mock.OutcomeHang] == 1
	})
	st := srv.Stats().Clients[testClient]
	require.EqualValues(t, 1, st.Requests[mock.EndpointSync]["200"])
	require.EqualValues(t, 2, st.Counted, "both copies counted, and booked")

	// A request sent just after the hung one may still fail and need a
	// slot: the hedge is refused while that request is younger than the
	// usual latency, and the hedge asked for again after goes.
	require.NoError(t, srv.SetFaults(mock.Faults{HangNext: 1}))
	hung := make(chan error, 1)
	go func() {
		_, err := c.SyncCampaign(ctx, testClient, "campaign_3")
		hung <- err
	}()
	testenv.WaitFor(t, 5*time.Second, "the mock to hold campaign_3", func() bool {
		return srv.Stats().Clients[testClient].Requests[mock.EndpointSync][mock.OutcomeHang] == 2
	})
	_, err = c.SyncCampaign(ctx, testClient, "campaign_4")
	require.NoError(t, err)
	require.NoError(t, <-hung, "the copy asked for again answered")
	require.Equal(t, []string{testClient + " sync", testClient + " sync"}, obs.hedges())

	// Queued work of the client holds the next slots: no copy may take one,
	// and the hang costs the timeout.
	holders := []string{"mine"}
	for i := range 2 * limit {
		holders = append(holders, fmt.Sprintf("queued-%d", i))
	}
	due, err := lim.Book(ctx, testClient, nil, holders)
	require.NoError(t, err)
	require.Less(t, due[0], 25*time.Millisecond, "the hung request's own slot is the first, a lead from now")
	require.NoError(t, srv.SetFaults(mock.Faults{HangNext: 1}))
	_, err = c.SyncCampaign(ratelimit.WithHolder(ctx, "mine"), testClient, "campaign_2")
	require.ErrorContains(t, err, "no answer within 2s")
	require.Len(t, obs.hedges(), 2, "no third hedge")
	testenv.WaitFor(t, 5*time.Second, "the mock to count the third hang", func() bool {
		return srv.Stats().Clients[testClient].Requests[mock.EndpointSync][mock.OutcomeHang] == 3
	})

	st = srv.Stats().Clients[testClient]
	require.LessOrEqual(t, st.MaxInWindow, int64(limit))
	require.Zero(t, st.RateLimited)
}
