package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// After an outage, once the presumption has lapsed, a save task checks
// that the database answers (it reads its run, which it does before every
// sync call) before it spends a request on its record: the database is
// still down here, so the task goes back to the queue without a sync call
// (the handlers have no platform client, so a call would fail the test).
func TestSaveChecksTheDatabaseAfterAnOutageBeforeItsSyncCall(t *testing.T) {
	t.Parallel()
	proxy := newCuttableProxy(t, testenv.AdminDatabaseURL())
	st, err := store.Open(t.Context(), proxy.url)
	require.NoError(t, err)
	t.Cleanup(st.Close)

	clk := &testClock{now: time.Now()}
	h := New(Options{SyncCall: true, Store: st, Policy: testPolicy(3, time.Second, time.Minute)})
	h.dbOutage.clock = clk
	record := `{"id":"campaign_1","name":"n","status":"active","budget":1.5,"impressions":1,"clicks":1,` +
		`"conversions":1,"created_at":"2025-01-02T03:04:05Z"}`
	payload, err := json.Marshal(tasks.Save{RunID: 1, ClientID: "c", Page: 1, ItemKey: "campaign_1", Record: json.RawMessage(record)})
	require.NoError(t, err)

	proxy.cut()
	require.Equal(t, requeue, h.decide(fmt.Errorf("store: save: %w: connection refused", store.ErrUnavailable), 0).verdict)
	clk.now = clk.now.Add(2 * time.Second) // the presumption has lapsed
	require.False(t, h.dbOutage.presumed())

	err = h.save(t.Context(), asynq.NewTask(tasks.TypeSave, payload))
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorContains(t, err, "store: run 1")
	require.Equal(t, requeue, h.decide(err, 0).verdict)
	require.True(t, h.dbOutage.presumed(), "the failed check is an outage met again")
}

// cuttableProxy forwards TCP connections to a PostgreSQL server until cut,
// which drops every connection and refuses new ones: the database as seen
// by a worker whose network to it just failed.
type cuttableProxy struct {
	url   string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCuttableProxy(t *testing.T, databaseURL string) *cuttableProxy {
	t.Helper()
	u, err := url.Parse(databaseURL)
	require.NoError(t, err)
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u.Host = ln.Addr().String()
	p := &cuttableProxy{url: u.String(), ln: ln}
	t.Cleanup(p.cut)
	go p.serve(target)
	return p
}

func (p *cuttableProxy) serve(target string) {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // cut
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(server, client); _ = server.Close() }()
		go func() { _, _ = io.Copy(client, server); _ = client.Close() }()
	}
}

func (p *cuttableProxy) cut() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
