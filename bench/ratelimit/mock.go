package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/adsync/adsync/internal/mock"
)

// startMock serves the mock platform in this process, with its default
// faults, at the given time scale and catalogue size, behind a recorder of
// the charted clients' requests. In this process rather than as
// bin/mockapi, so the recorder sees the arrivals on the mock's own clock.
// It returns the platform's URL and a function that stops the server.
func startMock(scale, campaigns int, charted []string) (string, *recorder, func(), error) {
	cfg := mock.DefaultConfig()
	cfg.TimeScale = float64(scale)
	cfg.Campaigns = campaigns
	srv, err := mock.NewServer(cfg)
	if err != nil {
		return "", nil, nil, fmt.Errorf("mock: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, nil, fmt.Errorf("mock: %w", err)
	}
	rec := newRecorder(srv, charted)
	// No read or write timeout: hung requests and the slow sync call last
	// as long as the client waits, as in cmd/mockapi.
	httpSrv := &http.Server{Handler: rec, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	stop := func() {
		srv.Close() // first, so that hung requests end
		_ = httpSrv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("bench-ratelimit: mock:", err)
		}
	}
	return "http://" + ln.Addr().String(), rec, stop, nil
}
