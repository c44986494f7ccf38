package progress

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
)

func TestETA(t *testing.T) {
	withFailedPage := running(1, "a", 3, 1, 10, 10, 0)
	withFailedPage.PagesFailed = 1

	tests := []struct {
		name string
		run  store.Run
		want time.Duration
	}{
		// 1 page request + 10 expected records' sync requests = 11 requests: 2 windows.
		{"fresh run", running(1, "a", 1, 0, 0, 0, 0), 2 * time.Minute},
		// 5 pages + 25 records pending + 50 expected = 80 requests: 8 windows.
		{"half done", running(1, "a", 10, 5, 50, 20, 5), 8 * time.Minute},
		// 6 pages + 2 records pending + 60 expected = 68 requests: 7 windows.
		{"four of ten pages", running(1, "a", 10, 4, 40, 37, 1), 7 * time.Minute},
		// A failed page is not fetched again: 1 page + 10 expected = 11.
		{"failed page", withFailedPage, 2 * time.Minute},
		{"all pages fetched, 3 records pending", running(1, "a", 4, 4, 40, 37, 0), time.Minute},
		{"nothing left, not yet settled", running(1, "a", 4, 4, 40, 39, 1), 0},
		{"ended", ended(running(1, "a", 10, 0, 0, 0, 0), store.StatusFailed, time.Second), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ETA(tt.run, 10, time.Minute, 10))
		})
	}
}

func TestETAWithoutRateLimitIsZero(t *testing.T) {
	r := running(1, "a", 10, 0, 0, 0, 0)
	require.Zero(t, ETA(r, 0, time.Minute, 10))
	require.Zero(t, ETA(r, 10, 0, 10))
}

func TestETAWithoutPageSizeCountsPageRequestsOnly(t *testing.T) {
	require.Equal(t, time.Minute, ETA(running(1, "a", 10, 0, 0, 0, 0), 10, time.Minute, 0))
}
