package mock

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatsAreExactWithManyConcurrentClients(t *testing.T) {
	t.Parallel()
	b := setup(t, limited(10), nil) // real clock, 60 s window
	tok := b.token(t, "setup")
	const clients = 100

	// Each client, all at once and each from several goroutines: 1 good and
	// 1 bad token request, 12 list and 3 sync calls (10 admitted, 5
	// refused), and 2 sync calls for an unknown id.
	send := func(id, method, target, auth string) error {
		a, err := b.doCtx(context.Background(), method, target, headers{"Authorization": auth, "X-Client-ID": id})
		if err == nil && a.status >= 500 {
			err = fmt.Errorf("%s %s: %d %s", method, target, a.status, a.body)
		}
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients*32)
	for c := range clients {
		id := fmt.Sprintf("client-%03d", c)
		jobs := []func() error{
			func() error { return send(id, http.MethodPost, "/auth/token", basic(refEmail, refPassword)) },
			func() error { return send(id, http.MethodPost, "/auth/token", basic(refEmail, "wrong")) },
		}
		for range 12 {
			jobs = append(jobs, func() error { return send(id, http.MethodGet, "/api/campaigns?page=2", "Bearer "+tok) })
		}
		for range 3 {
			jobs = append(jobs, func() error { return send(id, http.MethodPost, "/api/campaigns/campaign_9/sync", "Bearer "+tok) })
		}
		for _, job := range jobs {
			wg.Go(func() {
				if err := job(); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	a := b.do(t, http.MethodGet, "/__mock/stats", nil)
	checkAnswer(t, a)
	var overHTTP Stats
	a.decode(t, &overHTTP)
	direct := b.srv.Stats()
	require.Equal(t, direct, overHTTP, "GET /__mock/stats and Stats agree")

	require.Len(t, direct.Clients, clients+1)
	for c := range clients {
		id := fmt.Sprintf("client-%03d", c)
		cs := direct.Clients[id]
		require.Equal(t, map[string]int64{"200": 1, "401": 1}, cs.Requests[EndpointAuth], id)
		list, sync := cs.Requests[EndpointList], cs.Requests[EndpointSync]
		require.EqualValues(t, 12, list["200"]+list["429"], id)
		require.EqualValues(t, 3, sync["200"]+sync["429"], id)
		require.EqualValues(t, 10, list["200"]+sync["200"], id)
		require.EqualValues(t, 10, cs.Counted, id)
		require.EqualValues(t, 5, cs.RateLimited, id)
		require.EqualValues(t, 15, cs.MaxInWindow, id)
		require.Zero(t, cs.Hangs, id)
		require.False(t, cs.FirstArrival.IsZero(), id)
		require.False(t, cs.LastArrival.Before(cs.FirstArrival), id)
	}
}

func TestStatsJSONShape(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	tok := b.token(t, "acme")
	b.list(t, "acme", tok, "")

	var raw struct {
		Clients map[string]map[string]json.RawMessage `json:"clients"`
	}
	a := b.do(t, http.MethodGet, "/__mock/stats", nil)
	checkAnswer(t, a)
	var top map[string]json.RawMessage
	a.decode(t, &top)
	require.ElementsMatch(t, []string{"clients", "waiting"}, rawKeys(top))
	a.decode(t, &raw)
	acme := raw.Clients["acme"]
	require.ElementsMatch(t, []string{"requests", "counted", "rate_limited", "hangs", "max_in_window", "first_arrival", "last_arrival"}, rawKeys(acme))
	require.JSONEq(t, `{"auth":{"200":1},"list":{"200":1}}`, string(acme["requests"]))
	require.JSONEq(t, `1`, string(acme["counted"]))

	// A client that only asked for a token has no arrival times.
	b.token(t, "auth-only")
	a = b.do(t, http.MethodGet, "/__mock/stats", nil)
	a.decode(t, &raw)
	require.NotContains(t, raw.Clients["auth-only"], "first_arrival")
}

func rawKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestResetClearsStatsAndWindowsButNotGrowth(t *testing.T) {
	t.Parallel()
	cfg := limited(1)
	cfg.GrowBy = 4
	b := setup(t, cfg, newFakeClock())
	tok := b.token(t, "")
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status)
	require.Equal(t, http.StatusTooManyRequests, b.list(t, "", tok, "").status)
	require.Equal(t, 104, b.srv.CatalogueSize(defaultClientID))

	a := b.do(t, http.MethodPost, "/__mock/reset", nil)
	checkAnswer(t, a)
	require.Equal(t, http.StatusOK, a.status)
	require.Empty(t, b.srv.Stats().Clients)
	require.Equal(t, http.StatusOK, b.list(t, "", tok, "").status, "the window is empty again")
	require.Equal(t, 104, b.srv.CatalogueSize(defaultClientID), "saved rows do not vanish")

	require.Equal(t, http.StatusMethodNotAllowed, b.do(t, http.MethodGet, "/__mock/reset", nil).status)
}

func TestStatsReturnsADeepCopy(t *testing.T) {
	t.Parallel()
	b := setup(t, quietConfig(), nil)
	tok := b.token(t, "")
	b.list(t, "", tok, "")
	st := b.srv.Stats()
	st.Clients[defaultClientID].Requests[EndpointList]["200"] = 99
	st.Clients["invented"] = ClientStats{}
	again := b.srv.Stats()
	require.EqualValues(t, 1, again.Clients[defaultClientID].Requests[EndpointList]["200"])
	require.NotContains(t, again.Clients, "invented")
}
