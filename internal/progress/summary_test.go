package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
)

func TestSummaryHasARowPerRunWithItsReason(t *testing.T) {
	done := ended(running(12, "c1", 10, 10, 100, 100, 0), store.StatusDone, 11*time.Minute+2*time.Second)
	failed := running(13, "c2", 3, 1, 3, 3, 0)
	failed.PagesFailed, failed.Reason = 1, "list page 2:\nunauthorized"
	failed = ended(failed, store.StatusFailed, 42*time.Second)
	var out bytes.Buffer

	Summary(&out, []store.Run{done, failed})

	rows := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, rows, 3)
	require.Equal(t, []string{"CLIENT", "RUN", "STATUS", "PAGES", "SAVED", "DEAD", "SEEN", "DURATION", "REASON"}, strings.Fields(rows[0]))
	require.Equal(t, []string{"c1", "12", "done", "10/10", "100", "0", "100", "11m2s"}, strings.Fields(rows[1]))
	require.Equal(t, []string{"c2", "13", "failed", "1/3", "3", "0", "3", "42s"}, strings.Fields(rows[2])[:8])
	require.True(t, strings.HasSuffix(rows[2], "list page 2: unauthorized"), "the reason ends the row, on one line: %q", rows[2])
	require.Equal(t, strings.Index(rows[0], "REASON"), strings.Index(rows[2], "list page"), "columns are aligned")
}

func TestExitCode(t *testing.T) {
	done := ended(running(1, "a", 1, 1, 0, 0, 0), store.StatusDone, time.Second)
	withFailures := ended(running(2, "b", 1, 1, 1, 0, 1), store.StatusDoneWithFailures, time.Second)
	failed := ended(running(3, "c", 1, 0, 0, 0, 0), store.StatusFailed, time.Second)
	stillRunning := running(4, "d", 1, 0, 0, 0, 0)

	tests := []struct {
		name string
		runs []store.Run
		want int
	}{
		{"every run done", []store.Run{done, done}, 0},
		{"no runs", nil, 0},
		{"a record dead-lettered", []store.Run{done, withFailures}, 1},
		{"a run failed", []store.Run{failed, done}, 1},
		{"a run still running", []store.Run{done, stillRunning}, 1},
		{"every kind", []store.Run{done, withFailures, failed, stillRunning}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ExitCode(tt.runs))
		})
	}
}

func TestIsTerminalIsFalseForBuffersAndFiles(t *testing.T) {
	require.False(t, IsTerminal(&bytes.Buffer{}))
	f, err := os.Create(t.TempDir() + "/out")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, IsTerminal(f))
}
