package mock

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkListPage measures list pages per second over a real loopback
// listener with limits and faults off, from 64 concurrent connections
// spread over 8 clients and every page of their catalogues.
func BenchmarkListPage(b *testing.B) {
	cfg := quietConfig()
	srv, err := NewServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv.log = slog.New(slog.DiscardHandler)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	const conns = 64
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	token := "Bearer " + srv.issueToken(0, srv.now().Add(srv.tokenTTL))

	var worker atomic.Int64
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((conns + procs - 1) / procs) // RunParallel starts procs*p goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		clientID := fmt.Sprintf("bench-%d", w%8)
		for i := 0; pb.Next(); i++ {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/campaigns?page=%d&limit=10", ts.URL, 1+(i+int(w))%10), nil)
			req.Header.Set("Authorization", token)
			req.Header.Set("X-Client-ID", clientID)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
